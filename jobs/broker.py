"""The Dramatiq broker: Redis when `SMARTLINK_REDIS_URL` is set, else in-process.

Importing this module sets the global broker, so actor modules import it
before declaring their actors.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.broker import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO

from domain.config import get_settings
from jobs.parent_death import ExitWithLeader

#: Seconds a Redis command may take to connect, and to reply, before it fails.
#: Without a bound, a frozen Redis keeps a send waiting forever, because the
#: kernel still accepts its connections.
REDIS_SOCKET_TIMEOUT = 5.0


def create_broker() -> Broker:
    redis_url = get_settings().redis_url
    broker: Broker
    if redis_url:
        pool = redis.ConnectionPool.from_url(
            redis_url,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        )
        broker = RedisBroker(connection_pool=pool)
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    broker.add_middleware(ExitWithLeader())
    return broker


broker = create_broker()
dramatiq.set_broker(broker)


def uses_redis() -> bool:
    return isinstance(broker, RedisBroker)
