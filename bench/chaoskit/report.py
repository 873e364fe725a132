"""The chaos run's report: one table of figures per marketplace, then every failing schedule with the command
that re-runs it alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.chaoskit.junk import JunkResult
from bench.chaoskit.schedule import ScheduleResult


@dataclass
class Report:
    seed: int
    results: list[ScheduleResult] = field(default_factory=list)
    junk: JunkResult | None = None
    seconds: float = 0.0
    kills_per_schedule: dict[tuple[str, int], int] = field(default_factory=dict)
    concurrent_seeds: set[int] = field(default_factory=set)
    hostile_seeds: set[int] = field(default_factory=set)

    @property
    def failed(self) -> list[ScheduleResult]:
        return [r for r in self.results if r.failed]

    @property
    def five_hundreds(self) -> int:
        return self.junk.five_hundreds if self.junk else 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.five_hundreds

    def rerun(self, result: ScheduleResult) -> str:
        parts = [f".venv/bin/python bench/chaos.py --marketplace {result.marketplace} --seed {result.seed} --schedules 1",
                 f"--kills {self.kills_per_schedule.get((result.marketplace, result.seed), 0)}", "--junk 0"]
        return " ".join(parts)

    def lines(self) -> list[str]:
        out = []
        header = f"{'marketplace':<12}{'schedules':>10}{'converged':>10}{'dupl.':>7}{'losses':>8}{'ledger':>8}{'hostile':>9}{'silent':>8}" \
                 f"{'tracebk':>9}{'kills':>7}{'conc.':>7}{'seconds':>9}"
        out.append(header)
        totals = [0] * 10
        for marketplace in sorted({r.marketplace for r in self.results}):
            rows = [r for r in self.results if r.marketplace == marketplace]
            figures = [
                len(rows), sum(r.converged for r in rows), sum(len(r.duplicates) for r in rows), sum(r.loss_count for r in rows),
                sum(len(r.ledger) for r in rows), sum(len(r.hostile) for r in rows), sum(len(r.silent_hostile) for r in rows),
                sum(len(r.tracebacks) for r in rows), sum(sum(k.killed for k in r.kills) for r in rows),
                sum(len(r.concurrent) for r in rows),
            ]
            totals = [a + b for a, b in zip(totals, figures, strict=True)]
            seconds = sum(r.seconds for r in rows)
            out.append(f"{marketplace:<12}" + "".join(f"{v:>{w}}" for v, w in zip(figures, (10, 10, 7, 8, 8, 9, 8, 9, 7, 7), strict=True))
                       + f"{seconds:>9.1f}")
        out.append(f"{'total':<12}" + "".join(f"{v:>{w}}" for v, w in zip(totals, (10, 10, 7, 8, 8, 9, 8, 9, 7, 7), strict=True)))
        kills = [k for r in self.results for k in r.kills]
        if kills:
            killed = [k for k in kills if k.killed]
            leases = [k.lease_left_seconds for k in killed if k.mid_sync]
            out.append(f"crash-kills: {len(killed)} of {len(kills)} landed, {len(leases)} part-way through the sync (the rest "
                       f"after it or not at all); lease left by a killed sync: max {max(leases, default=0):.0f} s, "
                       f"median {sorted(leases)[len(leases) // 2] if leases else 0:.0f} s")
        outside = sum(len(v) for r in self.results for v in r.outside_window.values())
        if outside:
            out.append(f"stale outside the stated freshness window (by design, not counted): {outside} record(s)")
        operator = sum(len(r.operator) for r in self.results)
        if operator:
            out.append(f"owner re-entered credentials after a 401: {operator} time(s)")
        skipped = sorted({s for r in self.results for s in r.skipped})
        for reason in skipped:
            out.append(f"skipped: {reason}")
        if self.junk is not None:
            who = ", ".join(f"{k} {v}" for k, v in sorted(self.junk.by_identity.items()))
            out.append(f"junk web requests: {self.junk.requests} ({who}); 500s: {self.junk.five_hundreds}; "
                       f"tracebacks: {len(self.junk.tracebacks)}; {self.junk.seconds:.1f} s")
            for error in self.junk.errors[:40]:
                out.append(f"  {error}")
            if len(self.junk.errors) > 40:
                out.append(f"  … and {len(self.junk.errors) - 40} more")
        converged = sum(r.converged for r in self.results)
        out.append(
            f"schedules run {len(self.results)}, converged {converged}, failed {len(self.failed)} (any check); duplicates "
            f"{sum(len(r.duplicates) for r in self.results)}; losses {sum(r.loss_count for r in self.results)}; ledger problems "
            f"{sum(len(r.ledger) for r in self.results)}; 500s {self.five_hundreds}; wall time {self.seconds:.1f} s"
        )
        for result in self.failed:
            out.append("")
            hints = f" — looks like: {'; '.join(result.hints)}" if result.hints else ""
            out.append(f"FAILED {result.marketplace} seed {result.seed} [{', '.join(result.labels)}]{hints}")
            for problem in result.problems:
                out.append(f"  - {problem}")
            for stuck in result.stuck[:4]:
                out.append(f"  · entity left in error: {stuck}")
            for name, outcome in result.hostile:
                out.append(f"  · hostile {name}: {outcome}")
            if result.harness_error:
                lines = result.harness_error.strip().splitlines()[-8:]
                out.append("  · harness traceback:\n" + "\n".join("      " + line for line in lines))
            out.append(f"  re-run: {self.rerun(result)}")
        return out
