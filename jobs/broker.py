"""The Dramatiq broker: Redis when `SMARTLINK_REDIS_URL` is set, else in-process.

Importing this module sets the global broker, so actor modules import it
before declaring their actors.
"""

from __future__ import annotations

import dramatiq
from dramatiq.broker import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO

from domain.config import get_settings


def create_broker() -> Broker:
    redis_url = get_settings().redis_url
    broker: Broker = RedisBroker(url=redis_url) if redis_url else StubBroker()
    broker.add_middleware(AsyncIO())
    return broker


broker = create_broker()
dramatiq.set_broker(broker)


def uses_redis() -> bool:
    return isinstance(broker, RedisBroker)
