"""confluent-kafka's schema-registry client and serializers against `sluice
schema-registry` and the Sluice broker: Avro records produced and consumed
back, schema evolution under BACKWARD, the 409 for an incompatible schema, the
client's subject/version/config calls, and JSON Schema and Protobuf round
trips.

Every test registers under subjects named after a fresh topic, and reads its
data back with a second client whose caches are empty, so each value really
goes through the registry's REST API and the broker."""

import json
import struct

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from helpers import create_topic, read_all, unique_topic

# Every Avro type the serializers handle differently: primitives, an enum, an
# array, a map, a nullable union, a nested record, fixed and bytes.
ORDER = json.dumps({
    "type": "record", "name": "Order", "namespace": "com.example.sluice",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": "double"},
        {"name": "paid", "type": "boolean"},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "SHIPPED", "DONE"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attributes", "type": {"type": "map", "values": "string"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": "string"}]}},
        {"name": "checksum", "type": {"type": "fixed", "name": "Checksum", "size": 4}},
        {"name": "raw", "type": "bytes"},
    ],
})

READING_V1 = json.dumps({
    "type": "record", "name": "Reading", "namespace": "com.example.sluice",
    "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"}],
})
# v2 adds a field with a default: a BACKWARD-compatible change.
READING_V2 = json.dumps({
    "type": "record", "name": "Reading", "namespace": "com.example.sluice",
    "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"},
               {"name": "unit", "type": "string", "default": "celsius"}],
})
# v3 adds a field without a default: v3 readers cannot read v2 data, so BACKWARD refuses it.
READING_V3 = json.dumps({
    "type": "record", "name": "Reading", "namespace": "com.example.sluice",
    "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"},
               {"name": "unit", "type": "string", "default": "celsius"},
               {"name": "site", "type": "string"}],
})

N = 25


def order(i):
    return {
        "id": 1_000_000_000_000 + i,
        "customer": f"customer-{i} \u00e9\u00e8",
        "quantity": i - 3,
        "price": 2.5 * i,
        "paid": i % 2 == 0,
        "status": ["NEW", "SHIPPED", "DONE"][i % 3],
        "tags": [f"t{j}" for j in range(i % 4)],
        "attributes": {f"k{j}": f"v{j}" for j in range(i % 3)},
        "note": None if i % 2 else f"note {i}",
        "address": {"city": f"city-{i}", "zip": f"{10000 + i}"},
        "checksum": struct.pack(">I", i * 7919),
        "raw": bytes(range(i % 8)),
    }


def client_for(registry):
    return SchemaRegistryClient({"url": registry.url})


def registry_error(excinfo):
    e = excinfo.value
    return e.http_status_code, e.error_code


def produce(bootstrap, topic, records, timeout=60):
    """Produces (key bytes, value bytes) pairs and waits for every delivery."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all", "linger.ms": 5})
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    for key, value in records:
        p.produce(topic, key=key, value=value, on_delivery=on_delivery)
        p.poll(0)
    assert p.flush(timeout) == 0, f"producer did not deliver everything within {timeout}s"
    assert not errors, f"delivery errors: {errors[:5]}"


def read_topic(bootstrap, topic):
    return read_all(bootstrap, topic, 1)[0]


def framed_id(data):
    assert data[0] == 0, f"magic byte {data[0]}, expected 0"
    return struct.unpack(">i", data[1:5])[0]


def test_avro_records_round_trip_through_the_broker(group_broker, schema_registry):
    topic = unique_topic("sr-avro")
    create_topic(group_broker.bootstrap, topic)
    producer_client = client_for(schema_registry)
    key_ser = AvroSerializer(producer_client, json.dumps("string"))
    value_ser = AvroSerializer(producer_client, ORDER)
    key_ctx = SerializationContext(topic, MessageField.KEY)
    value_ctx = SerializationContext(topic, MessageField.VALUE)
    sent = [(f"order-{i}", order(i)) for i in range(N)]
    produce(group_broker.bootstrap, topic, [(key_ser(k, key_ctx), value_ser(v, value_ctx)) for k, v in sent])

    # TopicNameStrategy: one subject for keys, one for values.
    subjects = producer_client.get_subjects()
    assert f"{topic}-key" in subjects and f"{topic}-value" in subjects, subjects
    value_id = producer_client.get_latest_version(f"{topic}-value").schema_id
    key_id = producer_client.get_latest_version(f"{topic}-key").schema_id
    assert value_id != key_id

    records = read_topic(group_broker.bootstrap, topic)
    assert len(records) == N
    assert {framed_id(r.value) for r in records} == {value_id}
    assert {framed_id(r.key) for r in records} == {key_id}

    # A fresh client: its empty cache makes the deserializers fetch writer schemas by id.
    consumer_client = client_for(schema_registry)
    key_de = AvroDeserializer(consumer_client)
    value_de = AvroDeserializer(consumer_client)
    got = [(key_de(r.key, key_ctx), value_de(r.value, value_ctx)) for r in records]
    assert got == sent


def test_avro_schema_evolution_and_incompatible_schema(group_broker, schema_registry):
    topic = unique_topic("sr-evolve")
    subject = f"{topic}-value"
    create_topic(group_broker.bootstrap, topic)
    client = client_for(schema_registry)
    assert client.set_compatibility(subject, "BACKWARD")["compatibility"] == "BACKWARD"
    assert client.get_compatibility(subject) == "BACKWARD"
    ctx = SerializationContext(topic, MessageField.VALUE)

    v1 = [{"sensor": f"s{i}", "value": i / 4} for i in range(N)]
    v2 = [{"sensor": f"s{i}", "value": -i / 4, "unit": "kelvin"} for i in range(N)]
    ser_v1 = AvroSerializer(client, READING_V1)
    ser_v2 = AvroSerializer(client, READING_V2)
    produce(group_broker.bootstrap, topic, [(None, ser_v1(v, ctx)) for v in v1])
    produce(group_broker.bootstrap, topic, [(None, ser_v2(v, ctx)) for v in v2])

    assert client.get_versions(subject) == [1, 2]
    latest = client.get_latest_version(subject)
    assert latest.version == 2
    first = client.get_version(subject, 1)
    assert first.schema_id != latest.schema_id
    assert json.loads(latest.schema.schema_str) == json.loads(READING_V2)

    records = read_topic(group_broker.bootstrap, topic)
    assert [framed_id(r.value) for r in records] == [first.schema_id] * N + [latest.schema_id] * N
    fresh = client_for(schema_registry)
    # With the writer's schema each record reads back as written...
    as_written = AvroDeserializer(fresh)
    assert [as_written(r.value, ctx) for r in records] == v1 + v2
    # ...and a v2 reader fills the new field's default into v1 records.
    as_v2 = AvroDeserializer(fresh, schema_str=READING_V2)
    assert [as_v2(r.value, ctx) for r in records] == [dict(v, unit="celsius") for v in v1] + v2

    # A field without a default breaks BACKWARD: 409 with Confluent's error code 409.
    v3 = Schema(READING_V3, "AVRO")
    assert client.test_compatibility(subject, v3) is False
    assert client.test_compatibility(subject, Schema(READING_V2, "AVRO")) is True
    with pytest.raises(SchemaRegistryError) as excinfo:
        client.register_schema(subject, v3)
    assert registry_error(excinfo) == (409, 409), excinfo.value
    with pytest.raises(SchemaRegistryError) as excinfo:
        AvroSerializer(client, READING_V3)({"sensor": "x", "value": 1.0, "unit": "c", "site": "y"}, ctx)
    assert registry_error(excinfo) == (409, 409), excinfo.value
    assert client.get_versions(subject) == [1, 2]

    # Under NONE the same schema is accepted as version 3.
    client.set_compatibility(subject, "NONE")
    assert client.register_schema(subject, v3) not in (first.schema_id, latest.schema_id)
    assert client_for(schema_registry).get_latest_version(subject).version == 3


def test_client_subject_and_schema_calls(schema_registry):
    client = client_for(schema_registry)
    prefix = unique_topic("sr-api")
    subject, other = f"{prefix}-a-value", f"{prefix}-b-value"
    schema = Schema(READING_V1, "AVRO")

    schema_id = client.register_schema(subject, schema)
    # Registering the same schema again, with a client that cannot answer from its cache, gives the same id;
    # so does registering it under another subject.
    assert client_for(schema_registry).register_schema(subject, schema) == schema_id
    assert client_for(schema_registry).register_schema(other, schema) == schema_id

    assert subject in client.get_subjects()
    assert sorted(client.get_subjects(subject_prefix=prefix)) == [subject, other]
    latest = client.get_latest_version(subject)
    assert (latest.schema_id, latest.version, latest.subject) == (schema_id, 1, subject)
    assert json.loads(latest.schema.schema_str) == json.loads(READING_V1)
    fetched = client_for(schema_registry).get_schema(schema_id)
    assert fetched.schema_type == "AVRO"
    assert json.loads(fetched.schema_str) == json.loads(READING_V1)
    assert sorted(client.get_subjects_by_schema_id(schema_id)) == [subject, other]

    found = client_for(schema_registry).lookup_schema(subject, schema)
    assert (found.schema_id, found.version, found.subject) == (schema_id, 1, subject)
    with pytest.raises(SchemaRegistryError) as excinfo:
        client.lookup_schema(subject, Schema(READING_V2, "AVRO"))
    assert registry_error(excinfo) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as excinfo:
        client.lookup_schema(f"{prefix}-missing", schema)
    assert registry_error(excinfo) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as excinfo:
        client.get_schema(2_000_000_000)
    assert registry_error(excinfo) == (404, 40403)

    assert client.set_compatibility(subject, "FULL")["compatibility"] == "FULL"
    assert client.get_compatibility(subject) == "FULL"
    with pytest.raises(SchemaRegistryError) as excinfo:
        client.set_compatibility(subject, "SIDEWAYS")
    assert registry_error(excinfo) == (422, 42203)
    assert client.get_compatibility(subject) == "FULL"

    # Soft delete hides the subject; a permanent delete then removes it for good.
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert subject in client.get_subjects(deleted=True)
    with pytest.raises(SchemaRegistryError) as excinfo:
        client_for(schema_registry).get_latest_version(subject)
    assert registry_error(excinfo) == (404, 40401)
    assert client.delete_subject(subject, permanent=True) == [1]
    assert subject not in client.get_subjects(deleted=True)
    # The schema lives on under the other subject.
    assert json.loads(client_for(schema_registry).get_schema(schema_id).schema_str) == json.loads(READING_V1)
    assert client.get_subjects_by_schema_id(schema_id) == [other]


PERSON_JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Person",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "emails": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
})


def test_json_schema_round_trip(group_broker, schema_registry):
    topic = unique_topic("sr-json")
    create_topic(group_broker.bootstrap, topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    client = client_for(schema_registry)
    ser = JSONSerializer(PERSON_JSON_SCHEMA, client)
    people = [{"name": f"person {i}", "age": i, "emails": [f"p{i}@example.com"] * (i % 3)} for i in range(N)]
    produce(group_broker.bootstrap, topic, [(None, ser(p, ctx)) for p in people])

    registered = client.get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "JSON"
    records = read_topic(group_broker.bootstrap, topic)
    assert {framed_id(r.value) for r in records} == {registered.schema_id}
    # No schema given: the deserializer validates against the writer's schema fetched by id.
    de = JSONDeserializer(None, schema_registry_client=client_for(schema_registry))
    assert [de(r.value, ctx) for r in records] == people


def reading_message_class():
    """A Protobuf message class built from a descriptor at run time, so the test needs no protoc."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="sluice/compat/reading.proto", package="sluice.compat",
                                             syntax="proto3")
    msg = fdp.message_type.add(name="Reading")
    f = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="sensor", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    msg.field.add(name="value", number=2, type=f.TYPE_DOUBLE, label=f.LABEL_OPTIONAL)
    msg.field.add(name="tags", number=3, type=f.TYPE_STRING, label=f.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.compat.Reading"))


def test_protobuf_round_trip(group_broker, schema_registry):
    reading = reading_message_class()
    topic = unique_topic("sr-proto")
    create_topic(group_broker.bootstrap, topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    client = client_for(schema_registry)
    # The serializer registers the schema as a base64 FileDescriptorProto, as Confluent's registry accepts.
    ser = ProtobufSerializer(reading, client, {"use.deprecated.format": False})
    sent = [reading(sensor=f"s{i}", value=i * 0.5, tags=[f"t{j}" for j in range(i % 3)]) for i in range(N)]
    produce(group_broker.bootstrap, topic, [(None, ser(m, ctx)) for m in sent])

    registered = client_for(schema_registry).get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "PROTOBUF"
    assert "message Reading" in registered.schema.schema_str
    records = read_topic(group_broker.bootstrap, topic)
    assert {framed_id(r.value) for r in records} == {registered.schema_id}
    de = ProtobufDeserializer(reading, {"use.deprecated.format": False})
    assert [de(r.value, ctx) for r in records] == sent

    # A deserializer given the registry fetches the writer's schema by id as a
    # serialized descriptor (`format=serialized`), as confluent-kafka does for
    # Protobuf; it must parse and decode every record the same.
    with_registry = ProtobufDeserializer(reading, {"use.deprecated.format": False},
                                         schema_registry_client=client_for(schema_registry))
    assert [with_registry(r.value, ctx) for r in records] == sent
    serialized = client_for(schema_registry).get_schema(registered.schema_id, fmt="serialized")
    assert "message Reading" not in serialized.schema_str, "format=serialized returned the .proto text"
