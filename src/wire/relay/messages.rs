//! The messages the relay writes itself: its answer to a child's start-up, and the
//! frames it sends the server in the child's place.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use bytes::BytesMut;

use crate::wire::raw_session::Frame;

/// Answers the child's start-up: no authentication, the session's parameters, ready.
pub(super) fn start(
    parameters: &[(String, String)],
    client: &mut UnixStream,
) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 4];
        client.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if !(8..=10_000).contains(&len) {
            return Err(std::io::Error::other("a bad start-up packet"));
        }
        let mut body = vec![0u8; len - 4];
        client.read_exact(&mut body)?;
        let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        match code {
            // SSLRequest, GSSENCRequest: no.
            80_877_103 | 80_877_104 => client.write_all(b"N")?,
            // CancelRequest: nothing to cancel here.
            80_877_102 => return Err(std::io::Error::other("a cancel request")),
            _ => break,
        }
    }
    let mut messages = vec![backend(b'R', &0u32.to_be_bytes())];
    for (name, value) in parameters {
        let mut body = Vec::new();
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
        messages.push(backend(b'S', &body));
    }
    messages.push(backend(b'K', &[0u8; 8]));
    messages.push(backend(b'Z', b"I"));
    client.write_all(&messages.concat())
}

/// A message: tag, length, body.
pub(super) fn backend(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(5 + body.len());
    message.push(tag);
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// A simple Query message.
pub(super) fn query_frame(sql: &str) -> Frame {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    Frame {
        tag: b'Q',
        bytes: BytesMut::from(&backend(b'Q', &body)[..]),
    }
}

/// A Parse message for `sql` under the statement name `name`, with no parameter types.
pub(super) fn parse_frame(name: &[u8], sql: &str) -> Frame {
    let mut body = name.to_vec();
    body.push(0);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    body.extend_from_slice(&0u16.to_be_bytes());
    Frame {
        tag: b'P',
        bytes: BytesMut::from(&backend(b'P', &body)[..]),
    }
}

/// The text of a NUL-terminated string.
pub(super) fn cstring(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
