"""Factory demo data: one enterprise's master data and a history of orders, production and upkeep.

Everything is written through the factory services (never by inserting rows), so the history
obeys the same rules as real use. The history is simulated day by day with an event queue: each
event runs with ``hexmill.core.clock.frozen_at`` set to its moment, so created, shipped and
reported times fall on that day. The same ``seed`` gives the same history.

A day: preventive orders that fall due (done that afternoon), raw material bought when it runs
low (received days later, bar stock inspected), sales orders (some won from quotations) each
planned as a make-to-order work order with work orders for its machined parts, machines that
break down now and then. Work orders run on their day (start and finish per operation with some
scrap, bought parts kitted, machined parts backflushed), finished goods are inspected (a failed
check opens a nonconformance, part scrapped, part used as is) and shipped from the oldest lots; some
lines slip past their due date, a few shipments come back.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Final

from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.core.clock import frozen_at, utcnow
from hexmill.core.context import Context
from hexmill.factory.inventory import service as inventory
from hexmill.factory.maintenance import service as maintenance
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import service as production
from hexmill.factory.purchasing import service as purchasing
from hexmill.factory.quality import service as quality
from hexmill.factory.sales import service as sales

#: Sales orders a day of the demo's year: a few a week, so that ``hexmill demo`` seeds a year in
#: about a minute of CPU (each order line costs ~0.45 s: two or three work orders with their
#: reports, backflush, inspection and delivery through the services); see docs/benchmarks.md.
DEMO_ORDERS_PER_DAY: Final = 0.3
ZONE: Final = "Asia/Shanghai"
ONE: Final = Decimal(1)

# Items: code -> (name, unit, kind, tracking).
ITEMS: Final[dict[str, tuple[str, str, str, str]]] = {
    "RM-AL6061": ("Aluminium bar 6061 Ø60 铝棒", "kg", "raw", "lot"),
    "RM-C45": ("Steel round bar C45 Ø40 圆钢", "kg", "raw", "lot"),
    "RM-BRG6204": ("Ball bearing 6204 深沟球轴承", "pcs", "raw", "none"),
    "RM-SEAL": ("O-ring seal kit 密封圈套件", "pcs", "raw", "none"),
    "RM-M8": ("Hex bolt M8x25 六角螺栓", "pcs", "raw", "none"),
    "SF-HOUSING": ("Machined valve housing 阀体", "pcs", "semi_finished", "lot"),
    "SF-SHAFT": ("Turned shaft 传动轴", "pcs", "semi_finished", "lot"),
    "FG-VALVE": ("Hydraulic valve block 液压阀块", "pcs", "finished", "lot"),
    "FG-SPINDLE": ("Spindle unit 主轴单元", "pcs", "finished", "serial"),
    "FG-COUPLING": ("Shaft coupling 联轴器", "pcs", "finished", "lot"),
}
# BOMs: made item -> (component, quantity per unit, scrap factor).
BOMS: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "SF-HOUSING": (("RM-AL6061", "1.2", "0.04"),),
    "SF-SHAFT": (("RM-C45", "0.8", "0.04"),),
    "FG-VALVE": (("SF-HOUSING", "1", "0"), ("RM-SEAL", "2", "0"), ("RM-M8", "4", "0")),
    "FG-SPINDLE": (("SF-SHAFT", "1", "0"), ("SF-HOUSING", "1", "0"), ("RM-BRG6204", "2", "0"), ("RM-M8", "6", "0")),
    "FG-COUPLING": (("SF-SHAFT", "1", "0"), ("RM-M8", "2", "0")),
}
# Routings: made item -> (sequence, name, work centre, setup minutes, run minutes per unit).
ROUTINGS: Final[dict[str, tuple[tuple[int, str, str, int, str], ...]]] = {
    "SF-HOUSING": ((10, "Rough milling 粗铣", "MILL", 30, "6"), (20, "Finish milling 精铣", "MILL", 20, "8")),
    "SF-SHAFT": ((10, "Turning 车削", "TURN", 20, "4"),),
    "FG-VALVE": ((10, "Assembly 装配", "ASSY", 15, "5"), (20, "Pressure test 压力测试", "TEST", 5, "2")),
    "FG-SPINDLE": ((10, "Assembly 装配", "ASSY", 30, "25"), (20, "Run-in test 跑合测试", "TEST", 10, "20")),
    "FG-COUPLING": ((10, "Assembly 装配", "ASSY", 10, "3"), (20, "Balancing 动平衡", "TEST", 5, "2")),
}
# Finished products sold: code -> (smallest and largest quantity of an order line, unit price).
PRODUCTS: Final[dict[str, tuple[int, int, str]]] = {
    "FG-VALVE": (20, 80, "420.00"),
    "FG-SPINDLE": (2, 6, "6800.00"),
    "FG-COUPLING": (20, 60, "185.00"),
}
# Work centres: code -> (name, prefix of the machine it stands for).
WORK_CENTRES: Final[dict[str, tuple[str, str]]] = {
    "MILL": ("Milling cell 铣削单元", "VMC"),
    "TURN": ("Turning cell 车削单元", "LT"),
    "ASSY": ("Assembly bench 装配台", ""),
    "TEST": ("Test stand 测试台", ""),
}
CUSTOMERS: Final = (
    ("C-LYRV", "Lianyun RV Co., Ltd."),
    ("C-THHY", "Hangzhou Tianhe Hydraulics 杭州天和液压"),
    ("C-SZAE", "Suzhou Automation Equipment 苏州自动化设备"),
    ("C-NBPW", "Ningbo Pump Works 宁波泵业"),
)
# Suppliers: code -> (name, the raw materials they supply, lead time range in days).
SUPPLIERS: Final[dict[str, tuple[str, tuple[str, ...], tuple[int, int]]]] = {
    "S-JYAL": ("Jiangyin Aluminium 江阴铝业", ("RM-AL6061",), (3, 7)),
    "S-SGSS": ("Shagang Special Steel 沙钢特钢", ("RM-C45",), (4, 9)),
    "S-WXSP": ("Wuxi Standard Parts 无锡标准件", ("RM-BRG6204", "RM-SEAL", "RM-M8"), (2, 5)),
}
DEFECT_CODES: Final = (
    ("D01", "Dimension out of tolerance 尺寸超差", "dimension"),
    ("D02", "Surface scratch 表面划伤", "surface"),
    ("D03", "Burr 毛刺", "surface"),
    ("D04", "Leak under pressure 压力泄漏", "function"),
)
SCRAP_REASONS: Final = (
    ("S01", "Tool breakage 断刀"),
    ("S02", "Set-up piece 首件调机"),
    ("S03", "Material defect 材料缺陷"),
    ("S04", "Operator error 操作失误"),
)
FAILURE_CODES: Final = (
    ("F01", "Spindle bearing wear 主轴轴承磨损"),
    ("F02", "Hydraulic leak 液压泄漏"),
    ("F03", "Controller alarm 数控报警"),
    ("F04", "Coolant pump failure 冷却泵故障"),
)


@dataclass
class FactorySummary:
    """What ``seed_factory`` made: counts by kind, and the first and last day of the history."""

    first_day: date
    last_day: date
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        """Count ``n`` more of ``key``."""
        self.counts[key] = self.counts.get(key, 0) + n


@dataclass
class _Master:
    """Ids of the master data the history uses."""

    items: dict[str, int] = field(default_factory=dict)
    tracking: dict[str, str] = field(default_factory=dict)
    customers: list[int] = field(default_factory=list)
    suppliers: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    scrap_reasons: list[int] = field(default_factory=list)
    defect_codes: dict[str, int] = field(default_factory=dict)
    failure_codes: list[int] = field(default_factory=list)
    machines: list[int] = field(default_factory=list)
    plans: dict[str, int] = field(default_factory=dict)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def _whole(value: Decimal) -> Decimal:
    return value.to_integral_value()


class _History:
    """The day-by-day simulation: an event queue of (moment, step) run with the clock frozen at the moment."""

    def __init__(
        self,
        session: Session,
        ctx: Context,
        master: _Master,
        *,
        rng: random.Random,
        first: date,
        last: date,
        orders_per_day: float,
        summary: FactorySummary,
    ) -> None:
        self.s, self.ctx, self.m, self.rng = session, ctx, master, rng
        self.first, self.last, self.orders_per_day, self.summary = first, last, orders_per_day, summary
        self.end = _at(last + timedelta(days=1), 0)
        self.queue: list[tuple[datetime, int, Callable[[], object]]] = []
        self.seq = 0
        # Finished goods on the shelf FG-01 by item: FIFO of [lot id, quantity]; kept exactly in step
        # with the ledger (receipts, scrap, shipments) so deliveries reserve only what is there.
        self.shelf: dict[str, deque[list[Any]]] = {code: deque() for code in PRODUCTS}
        # Raw material on hand as planned (consumption counted in full, so never above the ledger), and on order.
        self.raw_on_hand: dict[str, Decimal] = {}
        self.raw_on_order: dict[str, Decimal] = {}
        self.daily_need = self._daily_need()
        self.cushion = self._cushion()
        self.numbers: dict[str, int] = {}
        self.plans: dict[str, Any] = {}

    # --- the queue ------------------------------------------------------------------------

    def at(self, moment: datetime, step: Callable[[], object]) -> None:
        """Run ``step`` at ``moment`` if that is within the history."""
        if moment < self.end:
            self.seq += 1
            heapq.heappush(self.queue, (moment, self.seq, step))

    def run(self, progress: Callable[[date], object] | None = None) -> None:
        """Schedule the daily routines and run every event in time order, telling ``progress`` each new day."""
        day = self.first
        while day <= self.last:
            self.at(_at(day, 7), partial(self.preventive, day))
            self.at(_at(day, 8), partial(self.purchase, day))
            self.at(_at(day, 9), partial(self.take_orders, day))
            self.at(_at(day, 10), partial(self.breakdowns, day))
            day += timedelta(days=1)
        shown = None
        while self.queue:
            moment, _, step = heapq.heappop(self.queue)
            if progress is not None and moment.date() != shown:
                shown = moment.date()
                progress(shown)
            with frozen_at(moment):
                step()

    def number(self, prefix: str, day: date) -> str:
        """Return the next document number of a kind on a day, e.g. SO-240315-02."""
        key = f"{prefix}-{day:%y%m%d}"
        self.numbers[key] = self.numbers.get(key, 0) + 1
        return f"{key}-{self.numbers[key]:02d}"

    # --- purchasing -----------------------------------------------------------------------

    @staticmethod
    def _explode(code: str, quantity: Decimal, need: dict[str, Decimal]) -> None:
        """Add the raw material ``quantity`` of ``code`` needs, through every BOM level, to ``need``."""
        for component, per, scrap in BOMS.get(code, ()):
            amount = quantity * Decimal(per) / (ONE - Decimal(scrap))
            if component in BOMS:
                _History._explode(component, amount, need)
            else:
                need[component] = need.get(component, Decimal(0)) + amount

    def _daily_need(self) -> dict[str, Decimal]:
        """Return the raw material a day of orders needs on average."""
        need: dict[str, Decimal] = {}
        lines_per_day = Decimal(str(self.orders_per_day)) * Decimal("1.5") / len(PRODUCTS)
        for code, (low, high, _) in PRODUCTS.items():
            self._explode(code, lines_per_day * Decimal(low + high) / 2 * Decimal("1.15"), need)
        return need

    def _cushion(self) -> dict[str, Decimal]:
        """Return the raw material of one order of the largest lines of every product (orders are lumpy)."""
        need: dict[str, Decimal] = {}
        for code, (_, high, _) in PRODUCTS.items():
            self._explode(code, Decimal(high) * Decimal("1.15") + 1, need)
        return need

    def _order_quantity(self, code: str) -> Decimal:
        return _whole(self.daily_need[code] * 30 + self.cushion[code]) + 10

    def opening_stock(self) -> None:
        """Buy and receive a month of every raw material on the first morning."""
        with frozen_at(_at(self.first, 6)):
            for supplier_code, (_, codes, _) in SUPPLIERS.items():
                wanted = {code: self._order_quantity(code) for code in codes}
                order_id = self._order(supplier_code, wanted, self.first)
                self._receive(order_id)

    def _ensure(self, needs: dict[str, Decimal]) -> None:
        """Expedite raw material that production needs now and the plan says is short (received at once)."""
        for supplier_code, (_, codes, _) in SUPPLIERS.items():
            short = {
                code: _whole(needs[code] - self.raw_on_hand.get(code, Decimal(0))) + self._order_quantity(code)
                for code in codes
                if code in needs and self.raw_on_hand.get(code, Decimal(0)) < needs[code]
            }
            if short:
                self._receive(self._order(supplier_code, short, utcnow().date()))
                self.summary.add("expedited_orders")

    def _order(self, supplier_code: str, wanted: dict[str, Decimal], expected: date) -> int:
        today = utcnow().date()
        order = purchasing.create_purchase_order(
            self.s,
            self.ctx,
            number=self.number("PO", today),
            supplier_id=self.m.suppliers[supplier_code],
            order_date=today,
            expected_date=expected,
            lines=[
                {
                    "item_id": self.m.items[code],
                    "quantity": qty,
                    "unit_price": Decimal("12.50"),
                    "tolerance_pct": Decimal(2),
                }
                for code, qty in wanted.items()
            ],
        )
        purchasing.confirm_purchase_order(self.s, self.ctx, order.id)
        for code, qty in wanted.items():
            self.raw_on_order[code] = self.raw_on_order.get(code, Decimal(0)) + qty
        self.summary.add("purchase_orders")
        return order.id

    def purchase(self, day: date) -> None:
        """Order raw material from each supplier whose items fall below three weeks of need."""
        for supplier_code, (_, codes, (low, high)) in SUPPLIERS.items():
            short = {
                code: self._order_quantity(code)
                for code in codes
                if self.raw_on_hand.get(code, Decimal(0)) + self.raw_on_order.get(code, Decimal(0))
                < self.daily_need[code] * 21 + self.cushion[code]
            }
            if short:
                lead = self.rng.randint(low, high)
                order_id = self._order(supplier_code, short, day + timedelta(days=lead))
                self.at(_at(day + timedelta(days=lead), 8, 30), partial(self._receive, order_id))

    def _receive(self, order_id: int) -> None:
        """Receive a purchase order in full into the raw store, inspecting lot-tracked material."""
        order = purchasing.get_purchase_order(self.s, self.ctx, order_id)
        codes = {item_id: code for code, item_id in self.m.items.items()}
        specs = []
        for line in order.lines:
            code = codes[line.item_id]
            lot = f"{code[3:]}-{order.number[3:]}" if self.m.tracking[code] != "none" else None
            specs.append(purchasing.ReceiptLineSpec(line.id, line.quantity, self.m.locations["RM-01"], lot))
        receipt = purchasing.receive_purchase_order(self.s, self.ctx, order_id, lines=specs)
        self.summary.add("purchase_receipts")
        for line, spec in zip(order.lines, specs, strict=True):
            code = codes[line.item_id]
            self.raw_on_order[code] = max(Decimal(0), self.raw_on_order.get(code, Decimal(0)) - line.quantity)
            self.raw_on_hand[code] = self.raw_on_hand.get(code, Decimal(0)) + line.quantity
            if spec.lot_number is not None:
                self._inspect_receipt(code, receipt, line, order.supplier_id)

    def _inspect_receipt(self, code: str, receipt: Any, line: Any, supplier_id: int) -> None:
        move_lines = [r for r in receipt.lines if r.order_line_id == line.id]
        lot_id = move_lines[0].lot_id if move_lines else None
        plan = self._plan("receipt")
        fail = self.rng.random() < 0.05
        results = []
        for char in plan.characteristics:
            samples = quality.required_samples(char.sample_size, char.sample_pct, line.quantity)
            for sample in range(1, samples + 1):
                if char.kind == "variable":
                    value = Decimal("60") + Decimal(str(round(self.rng.gauss(0, 0.08), 3)))
                    if fail and sample == 1:
                        value = Decimal("60.62")
                    results.append({"characteristic_id": char.id, "sample": sample, "value": value})
                else:
                    results.append({"characteristic_id": char.id, "sample": sample, "passed": True})
        affected = _whole(line.quantity * Decimal("0.05")) + 1 if fail else None
        inspection = quality.create_inspection(
            self.s,
            self.ctx,
            source_type="receipt",
            source_id=str(line.id),
            item_id=line.item_id,
            location_id=self.m.locations["RM-01"],
            quantity=line.quantity,
            lot_id=lot_id,
            plan_id=plan.id,
            supplier_id=supplier_id,
            affected_quantity=affected,
            results=results,
            note="Bar diameter over size" if fail else "",
        )
        self.summary.add("inspections")
        for nc in inspection.nonconformances:
            self.summary.add("nonconformances")
            quality.disposition(
                self.s,
                self.ctx,
                nc.id,
                lines=[quality.DispositionSpec(kind="return", quantity=nc.quantity, supplier_id=supplier_id)],
            )
            quality.close_nonconformance(self.s, self.ctx, nc.id)
            self.raw_on_hand[code] -= nc.quantity

    def _plan(self, key: str) -> Any:
        """Return an inspection plan with its characteristics, read once."""
        if key not in self.plans:
            self.plans[key] = quality.get_inspection_plan(self.s, self.ctx, self.m.plans[key])
        return self.plans[key]

    # --- sales and production -------------------------------------------------------------

    def _lines(self, day: date) -> list[dict[str, Any]]:
        """Return one or two order lines of finished products, due in two to four weeks."""
        products = self.rng.sample(sorted(PRODUCTS), k=1 if self.rng.random() < 0.6 else 2)
        lines = []
        for code in products:
            low, high, price = PRODUCTS[code]
            lines.append(
                {
                    "item_id": self.m.items[code],
                    "quantity": Decimal(self.rng.randint(low, high)),
                    "unit_price": Decimal(price),
                    "due_date": day + timedelta(days=self.rng.randint(12, 30)),
                }
            )
        return lines

    def _quote(self, day: date, customer: int, lines: list[dict[str, Any]]) -> int:
        """Create and send a quotation of ``lines`` (their due dates as requested dates); return its id."""
        quotation = sales.create_quotation(
            self.s,
            self.ctx,
            number=self.number("QT", day),
            customer_id=customer,
            quote_date=day,
            valid_until=day + timedelta(days=14),
            lines=[
                {**{k: v for k, v in line.items() if k != "due_date"}, "requested_date": line["due_date"]}
                for line in lines
            ],
        )
        sales.send_quotation(self.s, self.ctx, quotation.id)
        self.summary.add("quotations")
        return quotation.id

    def take_orders(self, day: date) -> None:
        """Take today's sales orders (a third won from a quotation) and plan a work order per line.

        Now and then a quotation is lost: the customer rejects it or lets it expire.
        """
        count = self._poisson(self.orders_per_day)
        for _ in range(count):
            customer = self.rng.choice(self.m.customers)
            lines = self._lines(day)
            if self.rng.random() < 0.35:
                quotation = self._quote(day, customer, lines)
                sales.accept_quotation(self.s, self.ctx, quotation)
                order = sales.convert_quotation(self.s, self.ctx, quotation, number=self.number("SO", day))
            else:
                order = sales.create_sales_order(
                    self.s,
                    self.ctx,
                    number=self.number("SO", day),
                    customer_id=customer,
                    order_date=day,
                    customer_reference=f"PO{self.rng.randint(10000, 99999)}",
                    lines=lines,
                )
            sales.confirm_sales_order(self.s, self.ctx, order.id)
            self.summary.add("sales_orders")
            for line in order.lines:
                self.summary.add("sales_order_lines")
                self._plan_line(day, order.id, line)
        if self.rng.random() < self.orders_per_day * 0.3:
            lost = self._quote(day, self.rng.choice(self.m.customers), self._lines(day))
            later = _at(day + timedelta(days=self.rng.randint(3, 20)), 11)
            answer = sales.reject_quotation if later.date() <= day + timedelta(days=14) else sales.expire_quotation
            self.at(later, partial(answer, self.s, self.ctx, lost))

    def _poisson(self, mean: float) -> int:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _plan_line(self, day: date, order_id: int, line: Any) -> None:
        code = next(c for c, i in self.m.items.items() if i == line.item_id)
        extra = _whole(line.base_quantity * Decimal("0.06")) + 1
        quantity = line.base_quantity + extra
        semi_day = day + timedelta(days=self.rng.randint(1, 4))
        planned = semi_day + timedelta(days=self.rng.randint(1, 3))
        final_day = planned
        if self.rng.random() < 0.14:  # a machine down, material late: this line will ship late
            final_day += timedelta(days=self.rng.randint(6, 24))
        final = production.create_work_order(
            self.s,
            self.ctx,
            number=self.number("WO", day),
            item_id=line.item_id,
            quantity=quantity,
            start_date=planned,
            due_date=max(planned, line.due_date - timedelta(days=1)),
            sales_order_line_id=line.id,
        )
        production.release_work_order(self.s, self.ctx, final.id)
        self.summary.add("work_orders")
        for component, per, _ in BOMS[code]:
            if component not in BOMS:
                continue
            semi = production.create_work_order(
                self.s,
                self.ctx,
                number=self.number("WO", day),
                item_id=self.m.items[component],
                quantity=quantity * Decimal(per) + 1,
                start_date=semi_day,
                due_date=planned,
            )
            production.release_work_order(self.s, self.ctx, semi.id)
            self.summary.add("work_orders")
            self.at(_at(semi_day, 8), partial(self._produce, semi.id, semi=True))
        self.at(_at(final_day, 8, 30), partial(self._produce, final.id, semi=False))
        self.at(_at(final_day + timedelta(days=self.rng.randint(0, 2)), 16), partial(self._ship, order_id, line.id))

    def _produce(self, work_order_id: int, *, semi: bool) -> None:
        """Run a work order's operations through the day, with some scrap, and receive its good output."""
        wo = production.get_work_order(self.s, self.ctx, work_order_id)
        moment = utcnow()
        budget = wo.quantity - _whole(wo.quantity / Decimal("1.06")) if not semi else Decimal(1)
        good = wo.quantity
        codes = {i: c for c, i in self.m.items.items()}
        if not semi:
            # Bought parts are kitted from the raw store for the whole order; the machined parts are
            # backflushed from the WIP buffer when the order is received.
            kit = [c for c in wo.components if codes[c.item_id] not in BOMS]
            self._ensure({codes[c.item_id]: c.required_quantity for c in kit})
            production.issue_material(
                self.s,
                self.ctx,
                wo.id,
                lines=[production.IssueSpec(c.id, c.required_quantity, self.m.locations["RM-01"]) for c in kit],
            )
            for component in kit:
                self.raw_on_hand[codes[component.item_id]] -= component.required_quantity
        for op in production.list_operations(self.s, self.ctx, wo.id):
            production.report_operation(self.s, self.ctx, op.id, kind="start", at=moment)
            scrap = Decimal(0)
            if budget > 0 and self.rng.random() < 0.45:
                scrap = Decimal(self.rng.randint(1, int(budget)))
                budget -= scrap
            good -= scrap
            minutes = op.setup_minutes + op.run_minutes * (good + scrap)
            moment += timedelta(minutes=float(minutes))
            production.report_operation(
                self.s,
                self.ctx,
                op.id,
                kind="finish",
                good=good,
                scrap=scrap,
                scrap_reason_id=self.rng.choice(self.m.scrap_reasons) if scrap else None,
                labour_minutes=minutes * Decimal("1.1"),
                at=moment,
            )
            self.summary.add("operation_reports", 2)
        code = codes[wo.item_id]
        location = self.m.locations["WIP-01" if semi else "FG-01"]
        source = self.m.locations["RM-01" if semi else "WIP-01"]
        tracking = self.m.tracking[code]
        stamp = wo.number[3:]  # e.g. 250312-04: numbers follow the order, the same for the same seed
        lot_number = f"{code[3:]}-{stamp}" if tracking == "lot" else None
        serials = (
            [f"SN{stamp.replace('-', '')}{n:02d}" for n in range(1, int(good) + 1)] if tracking == "serial" else []
        )
        if good > 0:
            with frozen_at(moment):
                if semi:
                    self._ensure({codes[c.item_id]: c.quantity_per_unit * good for c in wo.components})
                receipt = production.receive_work_order(
                    self.s,
                    self.ctx,
                    wo.id,
                    quantity=good,
                    location_id=location,
                    lot_number=lot_number,
                    serial_numbers=serials,
                    backflush_location_id=source,
                )
            self.summary.add("production_receipts")
            if semi:
                for component in wo.components:
                    self.raw_on_hand[codes[component.item_id]] -= component.quantity_per_unit * good
            if not semi:
                outputs = [(out.lot_id, out.quantity) for out in receipt.outputs]
                self.at(moment + timedelta(minutes=30), partial(self._final_inspection, code, outputs))
        if wo.received_quantity < wo.quantity:
            with frozen_at(moment):
                production.close_work_order(self.s, self.ctx, wo.id)

    def _final_inspection(self, code: str, outputs: list[tuple[int | None, Decimal]]) -> None:
        """Inspect finished goods (each serial, or the lot); a failed check opens an NC that is dispositioned."""
        plan = self._plan(code)
        fail_rate = 0.12
        if self.m.tracking[code] == "serial":
            # Serial units are sampled: the first of each receipt is run in and measured.
            outputs, rest = outputs[:1], outputs[1:]
            self.shelf[code].extend([lot_id, quantity] for lot_id, quantity in rest)
        for lot_id, quantity in outputs:
            fail = self.rng.random() < fail_rate
            results = []
            for char in plan.characteristics:
                samples = quality.required_samples(char.sample_size, char.sample_pct, quantity)
                for sample in range(1, samples + 1):
                    if char.kind == "variable":
                        spread = (char.usl - char.lsl) / 8 if char.lsl is not None else char.usl / 4
                        centre = char.nominal if char.nominal is not None else char.usl / 2
                        value = centre + Decimal(str(round(self.rng.gauss(0, float(spread)), 4)))
                        value = min(max(value, char.lsl if char.lsl is not None else Decimal(0)), char.usl)
                        if fail and sample == 1:
                            value = char.usl + spread
                        results.append({"characteristic_id": char.id, "sample": sample, "value": value})
                    else:
                        results.append({"characteristic_id": char.id, "sample": sample, "passed": True})
            affected = None
            if fail and quantity > 1:
                affected = min(quantity, _whole(quantity * Decimal(str(round(self.rng.uniform(0.1, 0.35), 2)))) + 1)
            inspection = quality.create_inspection(
                self.s,
                self.ctx,
                source_type="final",
                item_id=self.m.items[code],
                location_id=self.m.locations["FG-01"],
                quantity=quantity,
                lot_id=lot_id,
                plan_id=plan.id,
                affected_quantity=affected,
                results=results,
            )
            self.summary.add("inspections")
            kept = quantity
            for nc in inspection.nonconformances:
                self.summary.add("nonconformances")
                scrapped = _whole(nc.quantity / 3) if nc.quantity > 1 else nc.quantity
                specs = []
                if scrapped > 0:
                    specs.append(quality.DispositionSpec(kind="scrap", quantity=scrapped, note="Cannot be reworked"))
                if nc.quantity > scrapped:
                    specs.append(
                        quality.DispositionSpec(
                            kind="use_as_is",
                            quantity=nc.quantity - scrapped,
                            approver="QA",
                            note="Within customer deviation",
                        )
                    )
                quality.disposition(self.s, self.ctx, nc.id, lines=specs)
                quality.close_nonconformance(self.s, self.ctx, nc.id)
                kept -= scrapped
            if kept > 0:
                self.shelf[code].append([lot_id, kept])

    def _ship(self, order_id: int, line_id: int) -> None:
        """Deliver what is open of an order line from the shelf (oldest lots first); retry later if short."""
        line = sales.get_order_line(self.s, self.ctx, line_id)
        code = next(c for c, i in self.m.items.items() if i == line.item_id)
        open_quantity = line.base_quantity - line.delivered_quantity
        if open_quantity <= 0:
            return
        shelf = self.shelf[code]
        specs: list[sales.DeliveryLineSpec] = []
        needed = open_quantity
        tracked = self.m.tracking[code] != "none"
        while needed > 0 and shelf:
            lot_id, available = shelf[0]
            take = min(available, needed)
            specs.append(sales.DeliveryLineSpec(line.id, take, self.m.locations["FG-01"], lot_id if tracked else None))
            needed -= take
            if take == available:
                shelf.popleft()
            else:
                shelf[0][1] = available - take
        if specs:
            delivery = sales.create_delivery(self.s, self.ctx, order_id, lines=specs)
            sales.pick_delivery(self.s, self.ctx, delivery.id)
            sales.ship_delivery(self.s, self.ctx, delivery.id)
            self.summary.add("deliveries")
            if self.rng.random() < 0.03:
                spec = specs[0]
                back = min(spec.quantity, Decimal(self.rng.randint(1, 3)))
                later = utcnow() + timedelta(days=self.rng.randint(5, 20))
                self.at(later, partial(self._return, order_id, spec, back))
        if needed > 0:
            self.at(utcnow() + timedelta(days=2), partial(self._ship, order_id, line_id))

    def _return(self, order_id: int, spec: sales.DeliveryLineSpec, quantity: Decimal) -> None:
        sales.create_return(
            self.s,
            self.ctx,
            order_id,
            lines=[sales.ReturnLineSpec(spec.order_line_id, quantity, self.m.locations["QA-HOLD"], spec.lot_id)],
            reason="Customer complaint: leak at port A 客户投诉: A口泄漏",
        )
        self.summary.add("returns")

    # --- maintenance ----------------------------------------------------------------------

    def preventive(self, day: date) -> None:
        """Open the preventive orders that fall due today; the fitters do them in the afternoon."""
        for order in maintenance.generate_due_orders(self.s, self.ctx, utcnow()):
            self.summary.add("maintenance_orders")
            start = _at(day, 13, self.rng.randint(0, 59))
            self.at(start, partial(self._start, order.id))
            hours = Decimal(self.rng.choice(("1.5", "2", "3")))
            end = start + timedelta(hours=float(hours))
            self.at(end, partial(self._complete, order.id, hours, "Lubricated, filters changed, checked"))

    def breakdowns(self, day: date) -> None:
        """Break a machine now and then; repair it within hours."""
        for machine in self.m.machines:
            if self.rng.random() >= 0.012:
                continue
            failure = utcnow() + timedelta(minutes=self.rng.randint(0, 300))
            code = self.rng.choice(self.m.failure_codes)
            self.at(failure, partial(self._breakdown, machine, code))

    def _breakdown(self, equipment_id: int, failure_code_id: int) -> None:
        failure = utcnow()
        order = maintenance.create_maintenance_order(
            self.s,
            self.ctx,
            equipment_id=equipment_id,
            kind="corrective",
            priority="high",
            failure_code_id=failure_code_id,
            failure_at=failure,
            description="Machine stopped with an alarm 设备报警停机",
        )
        self.summary.add("maintenance_orders")
        start = failure + timedelta(minutes=self.rng.randint(10, 60))
        end = start + timedelta(minutes=self.rng.randint(45, 480))
        hours = Decimal(round((end - start).total_seconds() / 3600, 2))
        self.at(start, partial(self._start, order.id))
        self.at(end, partial(self._complete, order.id, hours, "Replaced the worn part, test run OK"))

    def _start(self, order_id: int) -> None:
        maintenance.start_maintenance_order(self.s, self.ctx, order_id)

    def _complete(self, order_id: int, hours: Decimal, action: str) -> None:
        maintenance.complete_maintenance_order(self.s, self.ctx, order_id, action_taken=action, labour_hours=hours)


def _machines(session: Session, ctx: Context) -> dict[int, str]:
    """Return the enterprise's machines by id, making a small machining hall first if it has none."""
    names = maintenance.equipment_names(session, ctx)
    if names:
        return names
    site = assets.create_site(session, ctx, name="Demo workshop 示范车间")
    area = assets.create_area(session, ctx, site_id=site.id, name="Machining hall 机加工车间")
    line = assets.create_line(session, ctx, area_id=area.id, name="Machining cell", kind="work_centre")
    for name in ("VMC-01", "VMC-02", "LT-01"):
        assets.create_equipment(session, ctx, line_id=line.id, name=name, serial_number=f"DEMO-{name}")
    return maintenance.equipment_names(session, ctx)


def _master_data(session: Session, ctx: Context, *, first: date) -> _Master:
    """Create the units, items, BOMs, routings, parties, stores and catalogues the history uses."""
    m = _Master()
    masterdata.ensure_default_uoms(session, ctx)
    uoms, _ = masterdata.list_uoms(session, ctx, limit=200)
    unit = {u.code: u.id for u in uoms}
    for code, (name, uom, kind, tracking) in ITEMS.items():
        m.items[code] = masterdata.create_item(
            session, ctx, code=code, name=name, kind=kind, uom_id=unit[uom], tracking=tracking
        ).id
        m.tracking[code] = tracking
    effective = first - timedelta(days=30)
    for code, lines in BOMS.items():
        bom = masterdata.create_bom(
            session, ctx, item_id=m.items[code], version="A", effective_from=effective, is_default=True
        )
        for component, per, scrap in lines:
            masterdata.add_bom_line(
                session,
                ctx,
                bom.id,
                component_id=m.items[component],
                quantity=Decimal(per),
                scrap_factor=Decimal(scrap),
            )
    machines = _machines(session, ctx)
    m.machines = sorted(machines)
    centres: dict[str, int] = {}
    weekdays = [(d, time(8), time(17), "Day shift 白班") for d in range(6)]
    for code, (name, prefix) in WORK_CENTRES.items():
        linked = next((i for i, n in sorted(machines.items()) if prefix and n.startswith(prefix)), None)
        centre = masterdata.create_work_centre(session, ctx, code=code, name=name, asset_equipment_id=linked)
        masterdata.set_calendar(session, ctx, centre.id, timezone=ZONE, shifts=weekdays, holidays=[])
        centres[code] = centre.id
    for code, operations in ROUTINGS.items():
        for sequence, name, centre_code, setup, run in operations:
            masterdata.create_operation(
                session,
                ctx,
                item_id=m.items[code],
                sequence=sequence,
                name=name,
                work_centre_id=centres[centre_code],
                setup_minutes=Decimal(setup),
                run_minutes=Decimal(run),
            )
    for code, name in CUSTOMERS:
        m.customers.append(masterdata.create_party(session, ctx, code=code, name=name, is_customer=True).id)
    for code, (name, _, _) in SUPPLIERS.items():
        m.suppliers[code] = masterdata.create_party(session, ctx, code=code, name=name, is_supplier=True).id
    _stores_and_catalogues(session, ctx, m)
    _plans(session, ctx, m)
    for n, machine in enumerate(m.machines):
        maintenance.create_plan(
            session,
            ctx,
            equipment_id=machine,
            name=f"Monthly service {machines[machine]} 月度保养",
            trigger_type="calendar",
            interval_days=30,
            start_date=first - timedelta(days=30 - 4 * n % 30),
            tasks="Lubricate ways, change coolant filter, check spindle runout",
        )
    return m


def _stores_and_catalogues(session: Session, ctx: Context, m: _Master) -> None:
    """Create the warehouses and locations, and the defect, scrap and failure catalogues."""
    for wh_code, wh_name, locations in (
        ("RM", "Raw material store 原材料库", (("RM-01", "Bar rack 棒料架"),)),
        ("WIP", "Work in progress 在制品库", (("WIP-01", "Machined parts buffer 机加件缓存区"),)),
        ("FG", "Finished goods 成品库", (("FG-01", "Shipping shelf 发货货架"), ("QA-HOLD", "Quarantine 隔离区"))),
    ):
        warehouse = inventory.create_warehouse(session, ctx, code=wh_code, name=wh_name)
        for code, name in locations:
            m.locations[code] = inventory.create_location(
                session, ctx, warehouse_id=warehouse.id, code=code, name=name
            ).id
    for code, name, category in DEFECT_CODES:
        m.defect_codes[code] = quality.create_defect_code(session, ctx, code=code, name=name, category=category).id
    for code, name in SCRAP_REASONS:
        m.scrap_reasons.append(production.create_scrap_reason(session, ctx, code=code, name=name).id)
    for code, name in FAILURE_CODES:
        m.failure_codes.append(maintenance.create_failure_code(session, ctx, code=code, name=name).id)


def _plans(session: Session, ctx: Context, m: _Master) -> None:
    """Create the receipt plan for bar stock and a final plan per finished product."""
    d01, d02, d04 = m.defect_codes["D01"], m.defect_codes["D02"], m.defect_codes["D04"]
    m.plans["receipt"] = quality.create_inspection_plan(
        session,
        ctx,
        code="QP-RM-BAR",
        name="Incoming bar stock 来料棒材检验",
        stage="receipt",
        characteristics=[
            {"name": "Certificate of material 材质证明", "kind": "attribute", "sample_size": 1},
            {
                "name": "Bar diameter 棒料直径",
                "kind": "variable",
                "unit": "mm",
                "nominal": Decimal(60),
                "lsl": Decimal("59.5"),
                "usl": Decimal("60.5"),
                "sample_size": 3,
                "defect_code_id": d01,
            },
        ],
    ).id
    finals = {
        "FG-VALVE": (
            "Bore diameter 孔径",
            Decimal("25.000"),
            Decimal("24.980"),
            Decimal("25.020"),
            d01,
            "Leak test 泄漏测试",
            d04,
        ),
        "FG-COUPLING": (
            "Bore diameter 孔径",
            Decimal("20.000"),
            Decimal("19.985"),
            Decimal("20.015"),
            d01,
            "Visual 外观",
            d02,
        ),
        "FG-SPINDLE": ("Radial runout 径向跳动", None, None, Decimal("0.005"), d01, "Noise test 噪声测试", d04),
    }
    for code, (name, nominal, lsl, usl, defect, check, check_defect) in finals.items():
        m.plans[code] = quality.create_inspection_plan(
            session,
            ctx,
            code=f"QP-{code}",
            name=f"Final inspection {code} 终检",
            stage="final",
            item_id=m.items[code],
            characteristics=[
                {
                    "name": name,
                    "kind": "variable",
                    "unit": "mm",
                    "nominal": nominal,
                    "lsl": lsl,
                    "usl": usl,
                    "sample_size": 3 if code != "FG-SPINDLE" else 1,
                    "defect_code_id": defect,
                },
                {"name": check, "kind": "attribute", "sample_size": 1, "defect_code_id": check_defect},
            ],
        ).id


def seed_factory(
    session: Session,
    ctx: Context,
    *,
    days: int = 365,
    orders_per_day: float = DEMO_ORDERS_PER_DAY,
    seed: int = 2024,
    until: date | None = None,
    progress: Callable[[date], object] | None = None,
) -> FactorySummary:
    """Seed one enterprise's factory: master data, then ``days`` of history ending the day before ``until``.

    Args:
        session: a session scoped to the enterprise (the caller commits).
        ctx: a context of the enterprise allowed to write every factory part (e.g. ``Context.system(tenant)``).
        days: how many days of history, ending yesterday (or the day before ``until``).
        orders_per_day: the mean number of sales orders taken a day (each with one or two lines).
        seed: the random seed; the same seed gives the same history.
        until: the day after the history (default: today).
        progress: called with each day of the history as its events start (for a progress bar).

    Returns:
        The first and last day of the history and the counts of what was made.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    end = until or utcnow().date()
    first, last = end - timedelta(days=days), end - timedelta(days=1)
    summary = FactorySummary(first_day=first, last_day=last)
    with frozen_at(_at(first - timedelta(days=30), 7)):
        master = _master_data(session, ctx, first=first)
    history = _History(
        session,
        ctx,
        master,
        rng=random.Random(seed),  # noqa: S311 - demo data must repeat for a seed, not be secret
        first=first,
        last=last,
        orders_per_day=orders_per_day,
        summary=summary,
    )
    history.opening_stock()
    history.run(progress)
    session.flush()
    return summary
