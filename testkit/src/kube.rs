//! The parts of Kubernetes a rolling-update test needs and cannot run here. A Service's
//! virtual address ([`ServiceAddress`]): kube-proxy sends each new connection to one of the
//! Service's ready endpoints and leaves established connections where they are. The cluster
//! DNS ([`ClusterDns`]): a headless Service's name resolves to its ready pods' addresses. In
//! both, an endpoint appears once its pod is ready and leaves the moment the pod starts
//! terminating.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// A Service's address: new connections go round robin to the current endpoints (refused
/// when there are none); connections already made stay with their endpoint.
pub struct ServiceAddress {
    addr: SocketAddr,
    endpoints: Arc<Mutex<Vec<SocketAddr>>>,
}

impl ServiceAddress {
    pub async fn start(endpoints: &[SocketAddr]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Service address");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let endpoints = Arc::new(Mutex::new(endpoints.to_vec()));
        let next = AtomicUsize::new(0);
        tokio::spawn({
            let endpoints = endpoints.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let endpoint = {
                        let endpoints = endpoints.lock().expect("endpoints lock");
                        let turn = next.fetch_add(1, Ordering::Relaxed);
                        (!endpoints.is_empty()).then(|| endpoints[turn % endpoints.len()])
                    };
                    let Some(endpoint) = endpoint else {
                        continue;
                    };
                    tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(endpoint).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            }
        });
        Self { addr, endpoints }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new pod became ready.
    pub fn add(&self, endpoint: SocketAddr) {
        self.endpoints
            .lock()
            .expect("endpoints lock")
            .push(endpoint);
    }

    /// A pod started terminating: no new connections to it.
    pub fn remove(&self, endpoint: SocketAddr) {
        self.endpoints
            .lock()
            .expect("endpoints lock")
            .retain(|e| *e != endpoint);
    }
}

/// A DNS server (UDP, A records only) for headless Services: each name resolves to the
/// addresses of its ready pods, with a one-second TTL; other names do not exist, and AAAA
/// questions get no answer, as for an IPv4 cluster.
pub struct ClusterDns {
    addr: SocketAddr,
    records: Arc<Mutex<BTreeMap<String, Vec<Ipv4Addr>>>>,
}

impl ClusterDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind the DNS server");
        let addr = socket.local_addr().expect("a bound socket has an address");
        let records: Arc<Mutex<BTreeMap<String, Vec<Ipv4Addr>>>> = Arc::default();
        tokio::spawn({
            let records = records.clone();
            async move {
                let mut query = [0u8; 512];
                while let Ok((len, from)) = socket.recv_from(&mut query).await {
                    let records = records.lock().expect("records lock").clone();
                    if let Some(answer) = answer(&query[..len], &records) {
                        let _ = socket.send_to(&answer, from).await;
                    }
                }
            }
        });
        Self { addr, records }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A pod of `name` became ready.
    pub fn add(&self, name: &str, ip: Ipv4Addr) {
        let mut records = self.records.lock().expect("records lock");
        records
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(ip);
    }

    /// A pod of `name` started terminating.
    pub fn remove(&self, name: &str, ip: Ipv4Addr) {
        let mut records = self.records.lock().expect("records lock");
        if let Some(ips) = records.get_mut(&name.to_ascii_lowercase()) {
            ips.retain(|i| *i != ip);
        }
    }
}

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;

/// The response to one DNS query with a single question; `None` for what is not one.
fn answer(query: &[u8], records: &BTreeMap<String, Vec<Ipv4Addr>>) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    if u16::from_be_bytes([header[4], header[5]]) != 1 {
        return None;
    }
    // The question: length-prefixed labels up to a zero byte, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let ips = records.get(&labels.join("."));
    let answers: &[Ipv4Addr] = match ips {
        Some(ips) if qtype == TYPE_A => ips,
        _ => &[],
    };
    // NXDOMAIN for a name nobody serves; NOERROR (maybe without answers) otherwise.
    let rcode = if ips.is_some() { 0 } else { 3 };
    let mut response = Vec::with_capacity(12 + question.len() + answers.len() * 16);
    response.extend_from_slice(&header[..2]);
    // QR, the query's opcode and RD, RA; the response code.
    response.push(0x80 | (header[2] & 0x79));
    response.push(0x80 | rcode);
    response.extend_from_slice(&1u16.to_be_bytes());
    response.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    response.extend_from_slice(&[0, 0, 0, 0]);
    response.extend_from_slice(question);
    for ip in answers {
        // The name as a pointer to the question's, at offset 12.
        response.extend_from_slice(&[0xC0, 12]);
        response.extend_from_slice(&TYPE_A.to_be_bytes());
        response.extend_from_slice(&CLASS_IN.to_be_bytes());
        response.extend_from_slice(&1u32.to_be_bytes());
        response.extend_from_slice(&4u16.to_be_bytes());
        response.extend_from_slice(&ip.octets());
    }
    Some(response)
}
