"""The errors of orders; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class OrderNotFound(NotFound):
    code, title = "ORDER_NOT_FOUND", "Order not found"


class OrderNotCancellable(Conflict):
    code, title = "ORDER_NOT_CANCELLABLE", "The order can no longer be cancelled"
