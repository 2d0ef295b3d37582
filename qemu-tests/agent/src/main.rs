//! ssi-agent: how the test harness runs commands on a node.
//!
//! The node side (`ssi-agent serve PORT`) reads requests from a virtio-serial
//! port, runs each with `sh -c`, and answers with the command's stdout,
//! stderr and exit status. The host side (`ssi-agent run SOCKET CMD`) talks
//! to the other end of that port, a unix socket opened by qemu. The channel
//! does not use the node's network, so it keeps working while a test cuts a
//! node's link.
//!
//! Wire format (all integers little-endian):
//! - request:  `"SSIQ"` id:u32 timeout_secs:u32 len:u32 command[len]
//! - response: `"SSIR"` id:u32 kind:u8 len:u32 data[len]; kind 1 = stdout,
//!   2 = stderr, 3 = exit status (data = i32: the exit code, or 128 + signal).
//!
//! Frames carry the request id so a client that gave up (timeout) cannot
//! confuse the next one with late output.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{self, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const REQ_MAGIC: &[u8; 4] = b"SSIQ";
const RESP_MAGIC: &[u8; 4] = b"SSIR";
const KIND_STDOUT: u8 = 1;
const KIND_STDERR: u8 = 2;
const KIND_EXIT: u8 = 3;
/// Largest command accepted, and largest output chunk sent.
const MAX_COMMAND: u32 = 1 << 20;
const CHUNK: usize = 1 << 16;
/// Exit status reported when the agent kills a command at its timeout.
const STATUS_TIMEOUT: i32 = 124;

fn main() {
    let args: Vec<String> = env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 3 => serve(&args[2]),
        Some("run") if args.len() >= 4 => client(&args[2..]),
        _ => {
            eprintln!("usage: ssi-agent serve PORT_DEVICE\n       ssi-agent run SOCKET [--timeout SECS] COMMAND...");
            2
        }
    };
    process::exit(code);
}

/// Reads exactly `buf.len()` bytes; on the node side a port without a
/// connected host reads as end of file, so wait and retry instead of failing.
fn read_full(r: &mut impl Read, buf: &mut [u8], retry_eof: bool) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) if retry_eof => thread::sleep(Duration::from_millis(20)),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Skips bytes until `magic` has been read: resynchronises after a client
/// that died half-way through a frame.
fn seek_magic(r: &mut impl Read, magic: &[u8; 4], retry_eof: bool) -> io::Result<()> {
    let mut window = [0u8; 4];
    read_full(r, &mut window, retry_eof)?;
    while &window != magic {
        window.copy_within(1.., 0);
        read_full(r, &mut window[3..], retry_eof)?;
    }
    Ok(())
}

fn read_u32(r: &mut impl Read, retry_eof: bool) -> io::Result<u32> {
    let mut b = [0u8; 4];
    read_full(r, &mut b, retry_eof)?;
    Ok(u32::from_le_bytes(b))
}

fn send_frame(w: &mut impl Write, id: u32, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(13 + data.len());
    frame.extend_from_slice(RESP_MAGIC);
    frame.extend_from_slice(&id.to_le_bytes());
    frame.push(kind);
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame)?;
    w.flush()
}

// ---------------------------------------------------------------- node side

fn serve(port: &str) -> i32 {
    // A virtio port can be opened only once: one read-write descriptor,
    // duplicated for the writing side.
    let opened = OpenOptions::new().read(true).write(true).open(port);
    let (mut input, mut output) = match opened.and_then(|f| f.try_clone().map(|w| (f, w))) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("ssi-agent: cannot open {port}: {e}");
            return 1;
        }
    };
    loop {
        if let Err(e) = serve_one(&mut input, &mut output) {
            // A vanished client is normal (it timed out); anything else is
            // logged and the agent goes on serving.
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("ssi-agent: {e}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_one(input: &mut File, output: &mut File) -> io::Result<()> {
    seek_magic(input, REQ_MAGIC, true)?;
    let id = read_u32(input, true)?;
    let timeout = read_u32(input, true)?;
    let len = read_u32(input, true)?;
    if len > MAX_COMMAND {
        return send_frame(output, id, KIND_EXIT, &126i32.to_le_bytes());
    }
    let mut cmd = vec![0u8; len as usize];
    read_full(input, &mut cmd, true)?;
    let cmd = String::from_utf8_lossy(&cmd).into_owned();

    let (status, out, err) = run_command(&cmd, timeout)?;
    for chunk in out.chunks(CHUNK) {
        send_frame(output, id, KIND_STDOUT, chunk)?;
    }
    for chunk in err.chunks(CHUNK) {
        send_frame(output, id, KIND_STDERR, chunk)?;
    }
    send_frame(output, id, KIND_EXIT, &status.to_le_bytes())
}

/// Runs `sh -c cmd` in its own process group with output to files, so that
/// background jobs the command leaves behind do not hold the answer back.
fn run_command(cmd: &str, timeout_secs: u32) -> io::Result<(i32, Vec<u8>, Vec<u8>)> {
    let dir = env::temp_dir();
    let out_path = dir.join(format!("ssi-agent.{}.out", process::id()));
    let err_path = dir.join(format!("ssi-agent.{}.err", process::id()));
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .current_dir("/root")
        .process_group(0)
        .spawn()?;
    let deadline = (timeout_secs > 0).then(|| Instant::now() + Duration::from_secs(timeout_secs.into()));
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            break STATUS_TIMEOUT;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let out = fs::read(&out_path).unwrap_or_default();
    let err = fs::read(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    Ok((status, out, err))
}

// ---------------------------------------------------------------- host side

fn client(args: &[String]) -> i32 {
    let socket = &args[0];
    let mut rest = &args[1..];
    let mut timeout = 0u32;
    if rest.first().map(String::as_str) == Some("--timeout") && rest.len() >= 3 {
        timeout = match rest[1].parse() {
            Ok(t) => t,
            Err(_) => {
                eprintln!("ssi-agent: bad --timeout {}", rest[1]);
                return 2;
            }
        };
        rest = &rest[2..];
    }
    let cmd = rest.join(" ");
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ssi-agent: node not reachable at {socket}: {e}");
            return 255;
        }
    };
    if timeout > 0 {
        // The node kills the command at `timeout`; allow for the answer.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(u64::from(timeout) + 15)));
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let id = process::id().rotate_left(16) ^ nanos;
    let mut req = Vec::with_capacity(16 + cmd.len());
    req.extend_from_slice(REQ_MAGIC);
    req.extend_from_slice(&id.to_le_bytes());
    req.extend_from_slice(&timeout.to_le_bytes());
    req.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    req.extend_from_slice(cmd.as_bytes());
    if let Err(e) = stream.write_all(&req) {
        eprintln!("ssi-agent: sending to {socket}: {e}");
        return 255;
    }
    match receive(&mut stream, id) {
        Ok(status) => status,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            eprintln!("ssi-agent: no answer from the node within {}s", timeout + 15);
            STATUS_TIMEOUT
        }
        Err(e) => {
            eprintln!("ssi-agent: connection to the node lost: {e}");
            255
        }
    }
}

fn receive(stream: &mut UnixStream, id: u32) -> io::Result<i32> {
    let stdout = io::stdout();
    let stderr = io::stderr();
    loop {
        seek_magic(stream, RESP_MAGIC, false)?;
        let frame_id = read_u32(stream, false)?;
        let mut kind = [0u8; 1];
        read_full(stream, &mut kind, false)?;
        let len = read_u32(stream, false)?;
        if len as usize > CHUNK.max(4) {
            continue; // not a frame: resynchronise on the next magic
        }
        let mut data = vec![0u8; len as usize];
        read_full(stream, &mut data, false)?;
        if frame_id != id {
            continue; // late output of an earlier, abandoned request
        }
        match kind[0] {
            KIND_STDOUT => stdout.lock().write_all(&data)?,
            KIND_STDERR => stderr.lock().write_all(&data)?,
            KIND_EXIT if data.len() == 4 => return Ok(i32::from_le_bytes([data[0], data[1], data[2], data[3]])),
            _ => {}
        }
    }
}
