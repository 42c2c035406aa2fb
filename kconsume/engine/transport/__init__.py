"""Transports: how the engine reaches Kafka (aiokafka) or a test double."""

from .base import ConsumerDriver, KConsumeError, RebalanceHandler, Transport, UnknownTopicError

__all__ = ["ConsumerDriver", "KConsumeError", "RebalanceHandler", "Transport", "UnknownTopicError"]
