//! Test support: an in-process broker on an OS-chosen port, a raw Kafka-protocol client, rdkafka clients, polling.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;
use sluice_broker::{Broker, BrokerConfig, BrokerHandle};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one raw request may take before the test says the broker is stuck.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Logs go to the test output, filtered by `RUST_LOG` (warnings by default).
pub(crate) fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A port for a listener that must be named before it binds (a controller quorum lists every node's port; a
/// restarted broker keeps its own). Picked at random below the OS's ephemeral port range
/// (`ip_local_port_range`), where neither a concurrent test's port-0 bind nor an outgoing connection can take
/// it between this pick and the bind (a port-0 pick released for later use raced them and failed a test with
/// AddrInUse), and checked free now, so concurrent picks rarely meet.
pub(crate) fn reserved_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| {
            range
                .split_whitespace()
                .next()
                .and_then(|low| low.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(12_000).max(1025);
    let span = ephemeral_low.saturating_sub(low).max(1);
    for attempt in 0u64..1000 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(attempt);
        let port = low + (hasher.finish() % u64::from(span)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found below the ephemeral range ({low}..{ephemeral_low})")
}

/// A broker running in this process on its own temporary data dir.
pub(crate) struct TestBroker {
    handle: Option<BrokerHandle>,
    /// Where the broker listens.
    pub(crate) addr: SocketAddr,
    /// The config it was started with (data_dir points into `dir`).
    pub(crate) config: BrokerConfig,
    dir: TempDir,
}

impl TestBroker {
    /// Starts a broker with test defaults (port 0, fresh data dir), adjusted by `tweak`.
    pub(crate) async fn start(tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        init_tracing();
        let dir = TempDir::new().expect("create a temporary data dir");
        let mut config = BrokerConfig {
            listen: "127.0.0.1:0".to_string(),
            data_dir: dir.path().join("data"),
            ..BrokerConfig::default()
        };
        tweak(&mut config);
        let handle = Broker::start(config.clone())
            .await
            .expect("broker starts on a fresh data dir");
        let addr = handle.local_addr();
        Self {
            handle: Some(handle),
            addr,
            config,
            dir,
        }
    }

    /// `host:port` for client bootstrap settings.
    pub(crate) fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the broker cleanly and starts a new one on the same data dir and config (on a new port).
    pub(crate) async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`TestBroker::restart`], calling `between` with the data dir while no broker runs on it.
    pub(crate) async fn restart_with(mut self, between: impl FnOnce(&std::path::Path)) -> Self {
        self.stop_in_place().await;
        between(&self.config.data_dir);
        let handle = Broker::start(self.config.clone())
            .await
            .expect("broker restarts on its own data dir");
        self.addr = handle.local_addr();
        self.handle = Some(handle);
        self
    }

    /// Stops the broker and waits for it to finish.
    pub(crate) async fn stop(mut self) {
        self.stop_in_place().await;
        drop(self.dir);
    }

    async fn stop_in_place(&mut self) {
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
                .await
                .expect("broker shuts down within 30 s")
                .expect("broker shuts down cleanly");
        }
    }
}

/// Polls `probe` every 50 ms until it returns `Ok`, or panics after `timeout` naming `what` and the last
/// state the probe reported.
pub(crate) async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting until {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A Kafka-protocol client that speaks one request at a time over one TCP connection.
pub(crate) struct RawClient {
    stream: TcpStream,
    next_correlation_id: i32,
}

impl RawClient {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            next_correlation_id: 1,
        })
    }

    /// Sends `request` at `version` and decodes the answer at the same version.
    pub(crate) async fn send<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> anyhow::Result<R::Response> {
        let correlation_id = self.send_only(version, request).await?;
        self.receive::<R>(version, correlation_id).await
    }

    /// Writes a request without reading the answer; returns its correlation id.
    pub(crate) async fn send_only<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> anyhow::Result<i32> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let key =
            ApiKey::try_from(R::KEY).map_err(|()| anyhow::anyhow!("unknown API key {}", R::KEY))?;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("sluice-it")));
        let mut body = BytesMut::new();
        header.encode(&mut body, key.request_header_version(version))?;
        request.encode(&mut body, version)?;
        self.write_frame(&body).await?;
        Ok(correlation_id)
    }

    /// Reads the answer to the request with `correlation_id`, sent as `R` at `version`.
    pub(crate) async fn receive<R: Request>(
        &mut self,
        version: i16,
        correlation_id: i32,
    ) -> anyhow::Result<R::Response> {
        let key =
            ApiKey::try_from(R::KEY).map_err(|()| anyhow::anyhow!("unknown API key {}", R::KEY))?;
        let mut frame = self
            .read_frame()
            .await?
            .context("the broker closed the connection instead of answering")?;
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .with_context(|| format!("decode the {key:?} v{version} response header"))?;
        if header.correlation_id != correlation_id {
            bail!(
                "response carries correlation id {}, expected {correlation_id}",
                header.correlation_id
            );
        }
        let response = R::Response::decode(&mut frame, version)
            .with_context(|| format!("decode the {key:?} v{version} response body"))?;
        if frame.has_remaining() {
            bail!(
                "{} bytes left over after the {key:?} v{version} response body",
                frame.remaining()
            );
        }
        Ok(response)
    }

    /// Writes a size prefix and `body`.
    pub(crate) async fn write_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(body.len() + 4);
        out.extend_from_slice(&(body.len() as i32).to_be_bytes());
        out.extend_from_slice(body);
        self.write_raw(&out).await
    }

    /// Writes bytes as they are, without a size prefix.
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads one response frame (without its size); `None` when the broker closed the connection.
    pub(crate) async fn read_frame(&mut self) -> anyhow::Result<Option<Bytes>> {
        let read = async {
            let mut size = [0u8; 4];
            match self.stream.read_exact(&mut size).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(anyhow::Error::from(e)),
            }
            let size = i32::from_be_bytes(size);
            if size < 0 {
                bail!("response frame with negative size {size}");
            }
            let mut body = vec![0u8; size as usize];
            self.stream
                .read_exact(&mut body)
                .await
                .context("read a response body")?;
            Ok(Some(Bytes::from(body)))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, read)
            .await
            .with_context(|| format!("no response within {REQUEST_TIMEOUT:?}"))?
    }

    /// Succeeds when the broker closes the connection without sending anything more.
    pub(crate) async fn expect_closed(&mut self, what: &str) {
        match self.read_frame().await {
            Ok(None) => {}
            Ok(Some(frame)) => panic!(
                "after {what} the broker answered a {}-byte frame instead of closing",
                frame.len()
            ),
            Err(e) => {
                panic!("after {what} the broker neither answered nor closed the connection: {e:#}")
            }
        }
    }
}

/// A topic name for requests.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A record for [`encode_batch`]: key, value and timestamp; the offset is set by position in the batch.
pub(crate) fn record(key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: Default::default(),
    }
}

/// Encodes `records` as one uncompressed v2 batch with offsets 0..n.
pub(crate) fn encode_batch(records: &[Record]) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            offset: i as i64,
            ..r.clone()
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode a record batch");
    buf.freeze()
}

/// A Produce v9 request (names topics by name) of one batch to one partition.
pub(crate) fn produce_request(
    topic: &str,
    partition: i32,
    acks: i16,
    batch: Bytes,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch))])])
}

/// The version the tests use for Produce (names topics by name, flexible encoding).
pub(crate) const PRODUCE_VERSION: i16 = 9;
/// The version the tests use for Fetch (names topics by name, flexible encoding).
pub(crate) const FETCH_VERSION: i16 = 12;

/// Produces one batch and returns the partition answer's (error code, base offset).
pub(crate) async fn produce_raw(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    records: &[Record],
) -> anyhow::Result<(i16, i64)> {
    let response: ProduceResponse = client
        .send(
            PRODUCE_VERSION,
            &produce_request(topic, partition, -1, encode_batch(records)),
        )
        .await?;
    let p = response
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .context("Produce response without a partition answer")?;
    Ok((p.error_code, p.base_offset))
}

/// A Fetch v12 request for one partition.
pub(crate) fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(50 * 1024 * 1024)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(10 * 1024 * 1024)])])
}

/// One partition's Fetch answer: error code, high watermark, log start offset and the records in it.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) error_code: i16,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) records: Vec<Record>,
}

/// Fetches once from `offset` (no waiting) and decodes the complete batches in the answer.
pub(crate) async fn fetch_raw(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    offset: i64,
) -> anyhow::Result<Fetched> {
    let response: FetchResponse = client
        .send(
            FETCH_VERSION,
            &fetch_request(topic, partition, offset, 0, 1),
        )
        .await?;
    fetched(&response)
}

/// The first partition answer of a Fetch response, decoded.
pub(crate) fn fetched(response: &FetchResponse) -> anyhow::Result<Fetched> {
    if response.error_code != 0 {
        bail!("Fetch answered top-level error {}", response.error_code);
    }
    let p = response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .context("Fetch response without a partition answer")?;
    Ok(Fetched {
        error_code: p.error_code,
        high_watermark: p.high_watermark,
        log_start_offset: p.log_start_offset,
        records: decode_records(p.records.clone().unwrap_or_default())?,
    })
}

/// Decodes every complete batch in `bytes`; a batch cut short at the end (allowed in Fetch answers) is skipped.
pub(crate) fn decode_records(mut bytes: Bytes) -> anyhow::Result<Vec<Record>> {
    let mut out = Vec::new();
    while bytes.len() >= 12 {
        let batch_len = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if batch_len < 0 {
            bail!("record batch with negative length {batch_len}");
        }
        let whole = 12 + batch_len as usize;
        if bytes.len() < whole {
            break;
        }
        let mut batch = bytes.split_to(whole);
        let set =
            RecordBatchDecoder::decode(&mut batch).context("decode a fetched record batch")?;
        out.extend(set.records);
    }
    Ok(out)
}

/// Reads a partition from `from` up to its high watermark with raw fetches; the records in offset order.
pub(crate) async fn read_partition(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    from: i64,
) -> anyhow::Result<Vec<Record>> {
    let mut out: Vec<Record> = Vec::new();
    let mut offset = from;
    loop {
        let f = fetch_raw(client, topic, partition, offset).await?;
        if f.error_code != 0 {
            bail!(
                "Fetch of {topic}-{partition} at offset {offset} answered error {}",
                f.error_code
            );
        }
        // A batch may start before the fetch offset; Kafka clients skip the records below it.
        let new: Vec<Record> = f
            .records
            .into_iter()
            .filter(|r| r.offset >= offset)
            .collect();
        match new.last() {
            Some(last) => offset = last.offset + 1,
            None if offset >= f.high_watermark => return Ok(out),
            // Nothing left at or above `offset` below the high watermark: compaction can leave such gaps
            // only if the broker answers the next batch; an empty answer here means it did not.
            None => bail!(
                "Fetch of {topic}-{partition} at offset {offset} returned no records below the high watermark {}",
                f.high_watermark
            ),
        }
        out.extend(new);
    }
}

/// Creates a topic through the raw client (CreateTopics v7) with `configs`; panics on any error code.
pub(crate) async fn create_topic(
    addr: SocketAddr,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::CreateTopicsRequest;
    let mut client = RawClient::connect(addr).await.expect("connect");
    let topic = CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let response = client
        .send(
            7,
            &CreateTopicsRequest::default()
                .with_topics(vec![topic])
                .with_timeout_ms(10_000),
        )
        .await
        .expect("CreateTopics answered");
    let result = &response.topics[0];
    assert_eq!(
        result.error_code, 0,
        "CreateTopics {name} with {configs:?} failed: {:?}",
        result.error_message
    );
}

/// Client settings every rdkafka client here shares.
fn base_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "20000")
        .set("log_level", "4");
    c
}

/// A producer; idempotence stays off because the broker does not serve InitProducerId.
pub(crate) fn producer(bootstrap: &str) -> FutureProducer {
    base_config(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create an rdkafka producer")
}

/// A consumer for `assign()` with explicit offsets. librdkafka refuses `assign()` without a group.id, so one is
/// set; nothing subscribes or commits, so no group is ever joined.
pub(crate) fn consumer(bootstrap: &str) -> StreamConsumer {
    base_config(bootstrap)
        .set("group.id", "sluice-it")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("create an rdkafka consumer")
}

/// A consumer used only for metadata and watermark queries (no group.id, so no group machinery at all).
pub(crate) fn watermark_client(bootstrap: &str) -> BaseConsumer {
    base_config(bootstrap)
        .create()
        .expect("create an rdkafka client for watermarks")
}

/// `(low, high)` watermarks of a partition through librdkafka (ListOffsets), off the async workers.
pub(crate) fn watermarks(
    client: &BaseConsumer,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), String> {
    tokio::task::block_in_place(|| {
        client.fetch_watermarks(topic, partition, Duration::from_secs(10))
    })
    .map_err(|e| format!("fetch_watermarks({topic}, {partition}) failed: {e}"))
}

/// An admin client.
pub(crate) fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    base_config(bootstrap)
        .create()
        .expect("create an rdkafka admin client")
}

/// Topic configs for brokers and topics, as owned strings.
pub(crate) fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// DeleteRecords v2 up to `offset` on one partition; the partition answer's (error code, low watermark).
pub(crate) async fn delete_records_raw(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    offset: i64,
) -> anyhow::Result<(i16, i64)> {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::DeleteRecordsRequest;
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(partition)
                .with_offset(offset)])]);
    let response = client.send(2, &request).await?;
    let p = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .context("DeleteRecords response without a partition answer")?;
    Ok((p.error_code, p.low_watermark))
}

/// Proof that the broker still serves: a fresh connection gets an ApiVersions answer.
pub(crate) async fn assert_serving(addr: SocketAddr, after: &str) {
    use kafka_protocol::messages::ApiVersionsRequest;
    let mut client = RawClient::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("after {after}, a new connection is refused: {e:#}"));
    let response = client
        .send(3, &ApiVersionsRequest::default())
        .await
        .unwrap_or_else(|e| {
            panic!("after {after}, a new connection gets no ApiVersions answer: {e:#}")
        });
    assert_eq!(
        response.error_code, 0,
        "after {after}, ApiVersions answers an error"
    );
}

/// A record as an rdkafka consumer delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consumed {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Consumes `topic` with an rdkafka consumer assigned to each `(partition, start)` until every partition has
/// delivered the record just below its `end` offset; fails after `timeout`.
pub(crate) async fn consume_until(
    bootstrap: &str,
    topic: &str,
    ranges: &[(i32, rdkafka::Offset, i64)],
    timeout: Duration,
) -> Vec<Consumed> {
    use rdkafka::message::{Headers, Message};
    let consumer = consumer(bootstrap);
    let mut assignment = rdkafka::TopicPartitionList::new();
    for &(partition, start, _) in ranges {
        assignment
            .add_partition_offset(topic, partition, start)
            .expect("add to the assignment");
    }
    consumer.assign(&assignment).expect("assign partitions");
    let mut out = Vec::new();
    let mut pending: BTreeMap<i32, i64> = ranges
        .iter()
        .filter(|&&(_, _, end)| end > 0)
        .map(|&(p, _, end)| (p, end))
        .collect();
    let deadline = tokio::time::Instant::now() + timeout;
    while !pending.is_empty() {
        let message = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => panic!("consuming {topic}: {e}"),
            Err(_) => panic!(
                "timed out after {timeout:?} consuming {topic}: {} records so far, still waiting for {pending:?} \
                 (partition -> end offset)",
                out.len()
            ),
        };
        let consumed = Consumed {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if pending
            .get(&consumed.partition)
            .is_some_and(|&end| consumed.offset + 1 >= end)
        {
            pending.remove(&consumed.partition);
        }
        out.push(consumed);
    }
    out
}

/// `(offset, key, value)` of one record, for comparing what different readers saw.
pub(crate) type Row = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// The [`Row`] of a decoded record.
pub(crate) fn row(r: &Record) -> Row {
    (
        r.offset,
        r.key.as_ref().map(|k| k.to_vec()),
        r.value.as_ref().map(|v| v.to_vec()),
    )
}
