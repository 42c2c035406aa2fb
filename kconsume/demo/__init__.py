"""The demo: an embedded broker, a steady flow of sample orders, two streams consuming them."""

from .orders import order_payload, produce_orders
from .run import DemoSettings, run_demo

__all__ = ["DemoSettings", "order_payload", "produce_orders", "run_demo"]
