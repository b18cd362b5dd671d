"""The sync's rules without I/O: mapping and quarantine reasons, the watermark, events, reconciliation."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import orjson
import pytest
from crm_contracts.envelope import Envelope
from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from factelec_sync.demo_source.generator import dui_check_digit
from factelec_sync.domain.events import EventEncoder, digest_of, new_event_ids, payload_json, prepare
from factelec_sync.domain.mapping import (
    ConfigurationError,
    Rejected,
    SourceSchema,
    SupplyPoint,
    last_per_nic,
    map_row,
)
from factelec_sync.domain.reconcile import (
    Known,
    MassRetirement,
    check_retirements,
    disappeared,
    to_republish,
)
from factelec_sync.domain.runs import RunCounters, RunSummary
from factelec_sync.domain.watermark import BEGINNING, OutOfOrderPage, Watermark, advance, lag_seconds
from factelec_sync.publisher import murmur2
from factelec_sync.settings import DEMO_COLUMNS, DEMO_STATUSES
from factelec_sync.source.postgres import compile_named

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)
SCHEMA = SourceSchema.from_config(DEMO_COLUMNS, DEMO_STATUSES, "America/El_Salvador")


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id_suministro": 17,
        "nic": "3000017",
        "nombre_titular": "María Elena Hernández López",
        "direccion": "Colonia Escalón, Calle Arce #12, Casa 4",
        "municipio": "Santa Tecla",
        "departamento": "La Libertad",
        "codigo_tarifa": "PD-RES",
        "numero_medidor": "EL12345678",
        "estado_conexion": "C",
        "fecha_actualizacion": T0,
    }
    base.update(overrides)
    return base


# -- mapping ------------------------------------------------------------------------------------------


def test_a_valid_row_maps_to_the_contract_fields() -> None:
    point = map_row(row(nombre_titular="  José Pérez  ", numero_medidor="  "), SCHEMA)
    assert point == SupplyPoint(
        key=17,
        nic="3000017",
        holder="José Pérez",
        address="Colonia Escalón, Calle Arce #12, Casa 4",
        municipality="Santa Tecla",
        department="La Libertad",
        tariff="PD-RES",
        meter=None,
        connection_status="connected",
        source_updated_at=T0,
    )


@pytest.mark.parametrize(
    ("code", "status"), [("C", "connected"), ("d", "disconnected"), (" S ", "suspended")]
)
def test_status_codes_are_mapped_trimmed_and_case_insensitively(code: str, status: str) -> None:
    point = map_row(row(estado_conexion=code), SCHEMA)
    assert isinstance(point, SupplyPoint) and point.connection_status == status


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"nic": None}, "missing NIC"),
        ({"nic": "   "}, "missing NIC"),
        ({"nic": "30 17"}, "NIC contains whitespace"),
        ({"nic": "9" * 40}, "NIC longer than 32 characters"),
        ({"nombre_titular": None}, "missing holder"),
        ({"direccion": ""}, "missing address"),
        ({"municipio": None}, "missing municipality"),
        ({"departamento": None}, "missing department"),
        ({"codigo_tarifa": " "}, "missing tariff"),
        ({"estado_conexion": "X"}, "invalid connection status 'X'"),
        ({"estado_conexion": None}, "missing connection status"),
        ({"fecha_actualizacion": None}, "missing update timestamp"),
        ({"fecha_actualizacion": "ayer"}, "invalid update timestamp 'ayer'"),
    ],
)
def test_bad_rows_are_rejected_with_the_reason_and_the_raw_row(
    overrides: dict[str, Any], reason: str
) -> None:
    rejected = map_row(row(**overrides), SCHEMA)
    assert isinstance(rejected, Rejected)
    assert rejected.reasons == (reason,)
    assert rejected.key == "17"
    assert rejected.raw["id_suministro"] == 17
    orjson.dumps(rejected.raw)  # JSON-safe, for the quarantine table


def test_every_reason_of_a_row_is_reported() -> None:
    rejected = map_row(row(nic=None, estado_conexion="Z", municipio=None), SCHEMA)
    assert isinstance(rejected, Rejected)
    assert rejected.reasons == ("missing NIC", "missing municipality", "invalid connection status 'Z'")
    assert rejected.reason == "missing NIC; missing municipality; invalid connection status 'Z'"
    assert rejected.raw["fecha_actualizacion"] == T0.isoformat()


def test_a_timestamp_without_zone_is_taken_in_the_source_zone() -> None:
    naive = dt.datetime(2026, 3, 2, 8, 30)
    point = map_row(row(fecha_actualizacion=naive), SCHEMA)
    assert isinstance(point, SupplyPoint)
    assert point.source_updated_at == dt.datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # El Salvador is UTC-6


def test_a_numeric_nic_column_becomes_text() -> None:
    point = map_row(row(nic=3000017), SCHEMA)
    assert isinstance(point, SupplyPoint) and point.nic == "3000017"


def test_the_configuration_must_map_every_required_field_and_known_statuses() -> None:
    with pytest.raises(ConfigurationError, match="holder"):
        SourceSchema.from_config(
            {k: v for k, v in DEMO_COLUMNS.items() if k != "holder"}, DEMO_STATUSES, "UTC"
        )
    with pytest.raises(ConfigurationError, match="unknown fields"):
        SourceSchema.from_config({**DEMO_COLUMNS, "colour": "color"}, DEMO_STATUSES, "UTC")
    with pytest.raises(ConfigurationError, match="allowed"):
        SourceSchema.from_config(DEMO_COLUMNS, {"C": "on"}, "UTC")
    assert SCHEMA.missing_columns(["nic", "id_suministro"])[:2] == ["nombre_titular", "direccion"]


def test_two_rows_of_one_nic_in_a_page_keep_the_last() -> None:
    a = map_row(row(id_suministro=1, direccion="vieja"), SCHEMA)
    b = map_row(row(id_suministro=2, nic="3000099"), SCHEMA)
    c = map_row(row(id_suministro=3, direccion="nueva"), SCHEMA)
    assert isinstance(a, SupplyPoint) and isinstance(b, SupplyPoint) and isinstance(c, SupplyPoint)
    kept, dropped = last_per_nic([a, b, c])
    assert kept == [b, c] and dropped == [a]


# -- the watermark ------------------------------------------------------------------------------------


def test_equal_timestamps_are_ordered_by_key_and_the_watermark_takes_the_last_row() -> None:
    page = [(T0, 1), (T0, 2), (T0, 10)]
    assert advance(Watermark.initial(), page) == Watermark(T0, 10)
    # The next page may continue on the same timestamp with higher keys: not a skip, not a repeat.
    assert advance(Watermark(T0, 10), [(T0, 11), (T0 + dt.timedelta(seconds=1), 3)]) == Watermark(
        T0 + dt.timedelta(seconds=1), 3
    )


@pytest.mark.parametrize(
    "page",
    [
        [(T0, 5), (T0 - dt.timedelta(microseconds=1), 6)],  # time goes back
        [(T0, 5), (T0, 5)],  # the same row twice
        [(T0, 5), (T0, 4)],  # keys go back on one timestamp
        [(T0, None)],  # no key
    ],
)
def test_a_page_out_of_order_stops_the_run(page: list[tuple[dt.datetime, Any]]) -> None:
    with pytest.raises(OutOfOrderPage):
        advance(Watermark.initial(), page)


def test_a_page_must_start_after_the_watermark() -> None:
    with pytest.raises(OutOfOrderPage):
        advance(Watermark(T0, 10), [(T0, 10)])
    with pytest.raises(OutOfOrderPage):
        advance(Watermark(T0, 10), [(T0, 9)])


def test_text_keys_follow_the_sources_collation() -> None:
    # Python cannot know the source's collation: text keys on one timestamp are taken in the given order.
    assert advance(Watermark(T0, "b"), [(T0, "B"), (T0, "a")]) == Watermark(T0, "a")


def test_naive_timestamps_in_a_page_take_the_source_zone() -> None:
    zone = SCHEMA.timezone
    wm = advance(Watermark.initial(), [(dt.datetime(2026, 3, 2, 8, 30), 1)], zone)
    assert wm.ts == dt.datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_the_watermark_survives_json_with_its_key_type() -> None:
    for key in (42, "A-17"):
        wm = Watermark(T0, key)
        assert Watermark.from_json(orjson.loads(orjson.dumps(wm.as_json()))) == wm
    assert Watermark.from_json(None).is_initial
    assert Watermark.initial().ts == BEGINNING


def test_lag_is_the_age_of_the_watermark() -> None:
    assert lag_seconds(None, T0) is None
    assert lag_seconds(Watermark.initial(), T0) is None
    assert lag_seconds(Watermark(T0, 1), T0 + dt.timedelta(seconds=90)) == 90


# -- events -------------------------------------------------------------------------------------------


def _point(**overrides: Any) -> SupplyPoint:
    point = map_row(row(**overrides), SCHEMA)
    assert isinstance(point, SupplyPoint)
    return point


def test_the_fast_envelope_is_the_contracts_envelope() -> None:
    correlation = uuid.uuid4()
    encoder = EventEncoder("factelec-sync", correlation)
    prepared = prepare(_point(nombre_titular='Comercial "El Ñandú", S.A. de C.V.'))
    [event_id] = new_event_ids(1)
    record = encoder.upserted(prepared, event_id)

    envelope = Envelope[SupplyPointUpserted].model_validate_json(record.value)
    assert envelope.event_id == uuid.UUID(event_id) and envelope.event_id.version == 4
    assert envelope.type == SupplyPointUpserted.event_type
    assert envelope.schema_version == SupplyPointUpserted.version
    assert envelope.producer == "factelec-sync"
    assert envelope.correlation_id == correlation and envelope.causation_id is None
    assert envelope.partition_key == "3000017" and record.key == b"3000017"
    assert envelope.occurred_at == T0
    assert envelope.data == SupplyPointUpserted(
        nic="3000017",
        holder='Comercial "El Ñandú", S.A. de C.V.',
        address="Colonia Escalón, Calle Arce #12, Casa 4",
        municipality="Santa Tecla",
        department="La Libertad",
        tariff="PD-RES",
        meter="EL12345678",
        connection_status="connected",
        source_updated_at=T0,
    )
    headers = dict(record.headers)
    assert headers == {
        "event_id": event_id.encode(),
        "event_type": SupplyPointUpserted.event_type.encode(),
        "schema_version": b"1",
        "producer": b"factelec-sync",
        "content-type": b"application/json",
        "correlation_id": str(correlation).encode(),
    }


@pytest.mark.parametrize(
    "holder",
    ['Comercial "El Ñandú", S.A. de C.V.', 'x,"data":{"nic":"1"}', "tab\tand \\ backslash", "Año 😀"],
)
def test_the_one_call_encoding_of_incremental_runs_makes_the_same_bytes_and_digest(holder: str) -> None:
    encoder = EventEncoder("factelec-sync", uuid.uuid4())
    point = _point(nombre_titular=holder)
    [event_id] = new_event_ids(1)
    record, digest = encoder.upserted_point(point, event_id)
    prepared = prepare(point)
    assert record == encoder.upserted(prepared, event_id)
    assert digest == prepared.digest  # reconciliation compares it with prepare()'s


def test_the_partitioner_is_kafkas_murmur2() -> None:
    from aiokafka.partitioner import murmur2 as reference

    rng = random.Random(7)
    keys = [rng.randbytes(rng.randint(0, 40)) for _ in range(5000)]
    keys += [str(3_000_000 + i).encode() for i in range(5000)] + ["NIC-ñ".encode(), b""]
    assert [murmur2(k) for k in keys] == [reference(k) for k in keys]


def test_the_retired_event_is_the_contracts_too() -> None:
    encoder = EventEncoder("factelec-sync")
    record = encoder.retired("3000017", "not found in FACTELEC", T0, new_event_ids(1)[0])
    envelope = Envelope[SupplyPointRetired].model_validate_json(record.value)
    assert envelope.data == SupplyPointRetired(nic="3000017", reason="not found in FACTELEC")
    assert envelope.correlation_id is None and "correlation_id" not in dict(record.headers)


def test_event_ids_are_distinct_version_4_uuids() -> None:
    ids = new_event_ids(2000)
    assert len(set(ids)) == 2000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_the_digest_changes_with_any_field_and_only_then() -> None:
    base = prepare(_point()).digest
    assert prepare(_point()).digest == base
    assert digest_of(payload_json(_point())) == base
    for change in (
        {"estado_conexion": "D"},
        {"nombre_titular": "Otro Titular"},
        {"numero_medidor": None},
        {"fecha_actualizacion": T0 + dt.timedelta(microseconds=1)},
    ):
        assert prepare(_point(**change)).digest != base, change
    assert -(2**63) <= base < 2**63


# -- reconciliation -----------------------------------------------------------------------------------


def test_reconciliation_republishes_new_changed_and_returned_supply_points() -> None:
    same, changed, new, back = (
        prepare(_point(nic="1")),
        prepare(_point(nic="2", estado_conexion="D")),
        prepare(_point(nic="3")),
        prepare(_point(nic="4")),
    )
    known = {
        "1": Known(same.digest),
        "2": Known(prepare(_point(nic="2")).digest),
        "4": Known(back.digest, retired=True),
    }
    assert [p.nic for p in to_republish([same, changed, new, back], known)] == ["2", "3", "4"]


def test_supply_points_not_seen_by_the_scan_disappeared() -> None:
    assert disappeared(["1", "2", "3", "4"], ["2", "4", "9"]) == ["1", "3"]


def test_mass_retirement_is_refused_unless_allowed() -> None:
    check_retirements(0, 0, 0.2)
    check_retirements(20, 100, 0.2)
    with pytest.raises(MassRetirement, match="21 of 100"):
        check_retirements(21, 100, 0.2)
    check_retirements(100, 100, 0.2, allow=True)


# -- runs and configuration ---------------------------------------------------------------------------


def test_a_run_summary_has_its_rate() -> None:
    summary = RunSummary(
        run_id=1,
        kind="incremental",
        trigger="cli",
        status="succeeded",
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=4),
        counters=RunCounters(read=1000, published=990, quarantined=10),
    )
    out = summary.as_dict()
    assert out["rows_per_s"] == 250 and out["duration_s"] == 4.0 and out["quarantined"] == 10


def test_named_parameters_become_positional_ones_and_casts_are_left_alone() -> None:
    sql, order = compile_named(
        "SELECT x::text FROM t WHERE (a, b) > (:after_ts, :after_key) AND a <= :until_ts "
        "AND c = ':literal'::text LIMIT :limit",
        ("after_ts", "after_key", "until_ts", "limit", "literal"),
    )
    assert order == ["after_ts", "after_key", "until_ts", "literal", "limit"]
    assert "x::text" in sql and "($1, $2)" in sql and "LIMIT $5" in sql
    with pytest.raises(ConfigurationError, match="unknown parameter :nope"):
        compile_named("SELECT :nope", ("limit",))


def test_dui_check_digits() -> None:
    # 0*9 + 0*8 + 0*7 + 1*6 + 6*5 + 2*4 + 9*3 + 7*2 = 85; 10 - 85 % 10 = 5. A multiple of ten gives 0.
    assert dui_check_digit("00016297") == 5
    assert dui_check_digit("00000000") == 0
