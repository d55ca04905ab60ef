"""Cursor pagination: a page of results that knows how to fetch the next one.

    page = client.orders.list(limit=50)            # one page: page.data, page.next_cursor
    for order in page.auto_paging_iter(): ...      # every order, fetching pages as needed

    page = await aclient.orders.list(limit=50)     # AsyncKassa: await for one page,
    async for order in aclient.orders.list(): ...  # or iterate every item
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import Any, Generic, TypeVar

from kassa_contract.common import Page

from ._base import Call

T = TypeVar("T")
F = TypeVar("F")


class _PageBase(Generic[T, F]):
    """A page's items and cursor, the call that fetched it and how to fetch another (`F`)."""

    def __init__(self, page: Page[T], call: Call[Page[T]], fetch: F) -> None:
        self.data: list[T] = page.data
        self.next_cursor: str | None = page.next_cursor
        self._call = call
        self._fetch = fetch

    @property
    def has_more(self) -> bool:
        """Whether a next page exists."""
        return self.next_cursor is not None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.data)}, next_cursor={self.next_cursor!r})"


class SyncPage(_PageBase[T, Callable[[Call[Page[T]]], "SyncPage[T]"]]):
    """One page of a list. Iterating it yields this page's items; `auto_paging_iter()` yields every item."""

    def next_page(self) -> SyncPage[T] | None:
        """The next page, or None after the last one."""
        if self.next_cursor is None:
            return None
        return self._fetch(self._call.with_params(cursor=self.next_cursor))

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page and every page after it."""
        page: SyncPage[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def auto_paging_iter(self) -> Iterator[T]:
        """Every item of this page and of the pages after it, fetching each page when it is reached."""
        for page in self.iter_pages():
            yield from page.data

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)


class AsyncPage(_PageBase[T, Callable[[Call[Page[T]]], Coroutine[Any, Any, "AsyncPage[T]"]]]):
    """One page of a list (async). `async for` over it, or `auto_paging_iter()`, yields every item."""

    async def next_page(self) -> AsyncPage[T] | None:
        """The next page, or None after the last one."""
        if self.next_cursor is None:
            return None
        return await self._fetch(self._call.with_params(cursor=self.next_cursor))

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page and every page after it."""
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def auto_paging_iter(self) -> AsyncIterator[T]:
        """Every item of this page and of the pages after it."""
        async for page in self.iter_pages():
            for item in page.data:
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self.auto_paging_iter()


class AsyncPager(Generic[T]):
    """What an async list operation returns: `await` it for the first page, or `async for` over every item."""

    def __init__(self, call: Call[Page[T]], fetch: Callable[[Call[Page[T]]], Coroutine[Any, Any, AsyncPage[T]]]) -> None:
        self._call = call
        self._fetch = fetch

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._fetch(self._call).__await__()

    async def auto_paging_iter(self) -> AsyncIterator[T]:
        """Every item of every page, fetching each page when it is reached."""
        page = await self._fetch(self._call)
        async for item in page.auto_paging_iter():
            yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self.auto_paging_iter()
