"""The Joulescope JS220/JS110 DC energy analyzer, through the `joulescope` package (`joulebench[joulescope]`)."""

from analyzers.joulescope.driver import JoulescopeAnalyzer

__all__ = ["JoulescopeAnalyzer"]
