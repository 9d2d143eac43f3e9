//! A scripted Kubernetes API for the cluster watch, served to kube's client through
//! `tower_test::mock`: no socket, no clock of its own. It answers kube's real requests (paged
//! lists, watches from a resourceVersion) from an in-memory set of argoproj.io objects, and the
//! test scripts what happens: objects created, changed and deleted, watches ended, history
//! compacted (410 Gone), the whole server unreachable.

#![allow(dead_code)]

use bytes::Bytes;
use futures::channel::mpsc;
use http::{Request, Response, StatusCode};
use http_body_util::StreamBody;
use hyper_body::Frame;
use kube::client::{Body, ClientBuilder};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use http_body as hyper_body;

/// The body of every mock response: frames pushed through a channel, so a watch stays open.
pub type MockBody = StreamBody<mpsc::UnboundedReceiver<Result<Frame<Bytes>, std::io::Error>>>;
type Sender = mpsc::UnboundedSender<Result<Frame<Bytes>, std::io::Error>>;

/// Objects made on demand for the memory test: how many, and object `i`.
type Generator = (usize, Box<dyn Fn(usize) -> Value + Send>);

#[derive(Default)]
struct KindState {
    objects: BTreeMap<(String, String), Value>,
    /// Every change: (resourceVersion, ADDED | MODIFIED | DELETED, object).
    history: Vec<(u64, &'static str, Value)>,
    /// Watches that are open.
    watchers: Vec<Sender>,
    generated: Option<Generator>,
}

#[derive(Default)]
struct State {
    resource_version: u64,
    /// A watch from before this resourceVersion is answered 410 Gone.
    compacted_before: u64,
    kinds: HashMap<String, KindState>,
    down: bool,
    /// Plurals the client may not read (403).
    forbidden: Vec<String>,
    log: Vec<String>,
}

/// The scripted API server. Clones share it.
#[derive(Clone, Default)]
pub struct KubeMock {
    state: Arc<Mutex<State>>,
}

/// The plural of a kind (`Rollout` -> `rollouts`).
fn plural_of(kind: &str) -> String {
    format!("{}s", kind.to_lowercase())
}

fn key(obj: &Value) -> (String, String) {
    let text = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (text("/metadata/namespace"), text("/metadata/name"))
}

fn line(v: &Value) -> Result<Frame<Bytes>, std::io::Error> {
    let mut bytes = serde_json::to_vec(v).unwrap();
    bytes.push(b'\n');
    Ok(Frame::data(Bytes::from(bytes)))
}

fn event(kind: &str, obj: &Value) -> Value {
    json!({ "type": kind, "object": obj })
}

fn response(
    status: StatusCode,
    frames: Vec<Value>,
    open: Option<&mut Vec<Sender>>,
) -> Response<MockBody> {
    let (tx, rx) = mpsc::unbounded();
    for f in &frames {
        tx.unbounded_send(line(f)).unwrap();
    }
    if let Some(watchers) = open {
        watchers.push(tx);
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(StreamBody::new(rx))
        .unwrap()
}

impl KubeMock {
    /// A client builder whose requests this mock answers, and the task that answers them.
    pub fn start(
        &self,
    ) -> ClientBuilder<tower_test::mock::Mock<Request<Body>, Response<MockBody>>> {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<MockBody>>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((request, reply)) = handle.next_request().await {
                match me.answer(&request) {
                    Ok(r) => reply.send_response(r),
                    Err(e) => reply.send_error(e),
                }
            }
        });
        ClientBuilder::new(service, "default")
    }

    /// Serves the same API over HTTP on a loopback port, for a client built from a kubeconfig.
    /// The listener runs until the test's runtime ends.
    pub async fn serve_http(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let answer = me.answer(&request);
                        async move { answer }
                    });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        addr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Every request so far, as `GET path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Creates or replaces an object (it must carry apiVersion, kind and metadata.name).
    pub fn apply(&self, mut obj: Value) {
        let mut s = self.lock();
        s.resource_version += 1;
        let rv = s.resource_version;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let plural = plural_of(obj["kind"].as_str().unwrap());
        let k = s.kinds.entry(plural).or_default();
        let verb = if k.objects.insert(key(&obj), obj.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        k.history.push((rv, verb, obj.clone()));
        k.watchers
            .retain(|w| w.unbounded_send(line(&event(verb, &obj))).is_ok());
    }

    /// Deletes an object.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let mut s = self.lock();
        s.resource_version += 1;
        let rv = s.resource_version;
        let k = s.kinds.entry(plural_of(kind)).or_default();
        let mut obj = k
            .objects
            .remove(&(namespace.to_string(), name.to_string()))
            .expect("the object exists");
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        k.history.push((rv, "DELETED", obj.clone()));
        k.watchers
            .retain(|w| w.unbounded_send(line(&event("DELETED", &obj))).is_ok());
    }

    /// Serves `count` objects of `kind` made by `make(i)` on demand, in pages.
    pub fn generate(
        &self,
        kind: &str,
        count: usize,
        make: impl Fn(usize) -> Value + Send + 'static,
    ) {
        let mut s = self.lock();
        s.resource_version += 1;
        s.kinds.entry(plural_of(kind)).or_default().generated = Some((count, Box::new(make)));
    }

    /// Ends every open watch the way the API server does at its timeout: the stream closes.
    pub fn end_watches(&self) {
        for k in self.lock().kinds.values_mut() {
            k.watchers.clear();
        }
    }

    /// Compacts the history: open watches get `410 Gone` and a watch from an older
    /// resourceVersion too, so the client must list again.
    pub fn compact(&self) {
        let mut s = self.lock();
        // Compaction is a write of its own: a list after it returns a version a watch may start from.
        s.resource_version += 1;
        s.compacted_before = s.resource_version;
        let gone = event(
            "ERROR",
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "too old resource version", "reason": "Expired", "code": 410}),
        );
        for k in s.kinds.values_mut() {
            for w in k.watchers.drain(..) {
                let _ = w.unbounded_send(line(&gone));
            }
        }
    }

    /// The server becomes unreachable: open watches break, every request fails to connect.
    pub fn go_away(&self) {
        let mut s = self.lock();
        s.down = true;
        for k in s.kinds.values_mut() {
            for w in k.watchers.drain(..) {
                let _ = w.unbounded_send(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )));
            }
        }
    }

    /// The client may not read `kind` any more (RBAC without it).
    pub fn forbid(&self, kind: &str) {
        self.lock().forbidden.push(plural_of(kind));
    }

    /// The server is reachable again.
    pub fn come_back(&self) {
        self.lock().down = false;
    }

    fn answer<B>(&self, request: &Request<B>) -> Result<Response<MockBody>, std::io::Error> {
        let uri = request.uri();
        let mut s = self.lock();
        s.log.push(format!("{} {}", request.method(), uri));
        if s.down {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ));
        }
        let query: HashMap<&str, &str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|p| p.split_once('='))
            .collect();
        let Some(plural) = uri
            .path()
            .strip_prefix("/apis/argoproj.io/v1alpha1/")
            .filter(|p| !p.contains('/'))
            .map(str::to_string)
        else {
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                "reason": "NotFound", "code": 404, "message": "not found"});
            return Ok(response(StatusCode::NOT_FOUND, vec![status], None));
        };
        if s.forbidden.contains(&plural) {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "reason": "Forbidden", "code": 403,
                                "message": format!("{plural}.argoproj.io is forbidden: User \"system:serviceaccount:rg:rg\" cannot list resource \"{plural}\"")});
            return Ok(response(StatusCode::FORBIDDEN, vec![status], None));
        }
        let rv = s.resource_version;
        let compacted_before = s.compacted_before;
        let k = s.kinds.entry(plural.clone()).or_default();
        if query.get("watch") == Some(&"true") {
            let from: u64 = query
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if from < compacted_before {
                let gone = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": format!("too old resource version: {from}"), "reason": "Expired", "code": 410});
                return Ok(response(StatusCode::OK, vec![event("ERROR", &gone)], None));
            }
            let missed = k
                .history
                .iter()
                .filter(|(v, _, _)| *v > from)
                .map(|(_, verb, obj)| event(verb, obj))
                .collect();
            return Ok(response(StatusCode::OK, missed, Some(&mut k.watchers)));
        }
        // A list, in pages when the objects are generated.
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(usize::MAX);
        let (items, next): (Vec<Value>, Option<usize>) = match &k.generated {
            Some((count, make)) => {
                let start: usize = query
                    .get("continue")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let end = (start.saturating_add(limit)).min(*count);
                (
                    (start..end).map(|i| with_rv(make(i), rv)).collect(),
                    (end < *count).then_some(end),
                )
            }
            None => (k.objects.values().cloned().collect(), None),
        };
        let kind = items
            .first()
            .and_then(|o| o["kind"].as_str())
            .unwrap_or("Object")
            .to_string();
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if let Some(n) = next {
            metadata["continue"] = json!(n.to_string());
        }
        let list = json!({ "apiVersion": "argoproj.io/v1alpha1", "kind": format!("{kind}List"),
                           "metadata": metadata, "items": items });
        Ok(response(StatusCode::OK, vec![list], None))
    }
}

fn with_rv(mut obj: Value, rv: u64) -> Value {
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    obj
}
