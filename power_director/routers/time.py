"""`GET /v1/time`: the director's clock when the request arrived and when the reply left."""

from __future__ import annotations

import time

from fastapi import APIRouter

from power_director.api import TimeReply

router = APIRouter(tags=["time"])


@router.get("/time", response_model=TimeReply)
async def get_time() -> TimeReply:
    # async: answered on the event loop, without a hop to the thread pool between the two stamps.
    receive_ns = time.time_ns()
    return TimeReply(receive_ns=receive_ns, transmit_ns=time.time_ns())
