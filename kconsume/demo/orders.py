"""Sample JSON orders and a producer that sends them at a steady rate."""

from __future__ import annotations

import asyncio
import random
import time

import orjson
from aiokafka import AIOKafkaProducer

__all__ = ["order_payload", "produce_orders"]

_PRODUCTS = ("keyboard", "mouse", "monitor", "cable", "dock", "headset", "webcam", "lamp")


def order_payload(number: int, rng: random.Random) -> tuple[bytes, bytes]:
    """Key and JSON value of sample order ``number``."""
    customer = f"c{rng.randrange(1, 200):03d}"
    lines = [(rng.choice(_PRODUCTS), rng.randint(1, 3), rng.randint(5, 400)) for _ in range(3)]
    lines = lines[: rng.randint(1, 3)]
    value = {
        "order": number,
        "customer": customer,
        "items": [{"sku": sku, "qty": qty, "price": price} for sku, qty, price in lines],
        "total": sum(qty * price for _, qty, price in lines),
        "ts": round(time.time(), 3),
    }
    return customer.encode(), orjson.dumps(value)


async def produce_orders(
    producer: AIOKafkaProducer, topic: str, rate: float, *, seed: int = 7
) -> None:
    """Send orders forever at about ``rate`` per second (until cancelled)."""
    rng = random.Random(seed)
    interval = 1.0 / rate
    number = 0
    next_at = time.monotonic()
    while True:
        key, value = order_payload(number, rng)
        await producer.send(topic, value, key=key)
        number += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
