"""The throughput scenarios (bench/throughput.py): the far end, its latency and connections, the
message count, smsq's processes and send threads, the limit clients, and further smsq setups
measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import limit

THREADS = (("campaigns__async_send", "false"),)  # singles on send threads instead of the event loop
SLOWER = (("messente__rate_per_second", "147"), ("messente__burst", "3"))
AS_DOCUMENTED = (("messente__rate_per_second", "150"), ("messente__burst", "15"))


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    far_end: str  # nginx | aiohttp | sandbox
    latency_ms: float
    connections: int
    messages: int
    bulk: bool  # smsq: SMSQ_CAMPAIGNS__USE_BULK; limit: /omnimessages bodies of 100
    processes: int  # smsq worker processes (prefork)
    threads: int  # SMSQ_CAMPAIGNS__CONCURRENCY: send threads per process
    textbook_processes: int
    limit_per_second: float | None = None  # the stub answers 429 above this
    rate: tuple[float, int] = (100_000.0, 1000)  # smsq's Messente rate_per_second, burst
    smsq_env: dict[str, str] = field(default_factory=dict)
    textbook_rate_limit: str | None = None
    limit_clients: tuple[str, ...] = limit.CLIENTS
    provider: str = "messente"  # whose singles: smsq routes SMS to it alone; the limit sends its bodies
    # Further smsq configurations measured in the same run: (label, processes, threads, settings).
    variants: tuple[tuple[str, int, int, tuple[tuple[str, str], ...]], ...] = ()


SCENARIOS = {
    "2": Scenario("2", "100 ms provider latency, 200 connections, single sends", "nginx", 100, 200,
                  30_000, False, 4, 50, 200,
                  variants=(("async", 2, 100, ()), ("threads", 8, 25, THREADS))),
    # Issue 17 target 3: SMSAPI's and Direct Messenger's singles through the same event loop.
    "2-smsapi": Scenario("2-smsapi", "SMSAPI singles, 100 ms latency, 200 connections", "nginx", 100, 200,
                         20_000, False, 4, 50, 200, limit_clients=("aiohttp",), provider="smsapi"),
    "2-dm": Scenario("2-dm", "Direct Messenger singles, 100 ms latency, 200 connections", "nginx", 100, 200,
                     20_000, False, 4, 50, 200, limit_clients=("aiohttp",), provider="direct_messenger"),
    "3-single": Scenario("3-single", "0 ms latency, single sends", "nginx", 0, 16, 30_000, False, 2, 8, 16,
                         variants=(("threads", 2, 8, THREADS),)),
    "3-bulk": Scenario("3-bulk", "0 ms latency, bulk calls of 100", "aiohttp", 0, 4, 30_000, True, 4, 1, 4,
                       limit_clients=("aiohttp", "httpx-aiohttp")),
    "4": Scenario("4", "Messente bulk call against the sandbox", "sandbox", 0, 4, 10_000, True, 4, 1, 4,
                  limit_clients=("aiohttp",)),
    # smsq's defaults (145/s, burst 2) first, then closer to the stub's 150 in any second, then the
    # provider's figure taken as is, which the stub answers with 429s.
    "7": Scenario("7", "global rate limit 150 requests/s at the stub, single sends", "aiohttp", 0, 16,
                  9_000, False, 2, 8, 8, limit_per_second=150, rate=(145.0, 2), textbook_rate_limit="150/s",
                  limit_clients=(), variants=(("rate 147/s burst 3", 2, 8, SLOWER),
                                              ("rate 150/s burst 15", 2, 8, AS_DOCUMENTED))),
}  # fmt: skip


# How smsq reaches the far end as each provider other than Messente, SMS routed to it alone.
PROVIDER_REACH = {
    "smsapi": lambda url: {"smsapi__enabled": "true", "smsapi__base_url": f"{url}/smsapi",
                           "smsapi__token": "bench", "routing__sms": '["smsapi"]'},
    "direct_messenger": lambda url: {"direct_messenger__enabled": "true",
                                     "direct_messenger__base_url": f"{url}/dm",
                                     "direct_messenger__api_token": "bench",
                                     "routing__sms": '["direct_messenger"]'},
}  # fmt: skip
