// Microphone capture (AudioWorklet at 16 kHz) and the live upload over a WebSocket.

export const SAMPLE_RATE = 16000;

export async function listInputs() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === "audioinput");
}

// Opens a microphone and calls onChunk(Int16Array, level) every 100 ms (worklet.js).
export class Microphone {
  async open(deviceId, onChunk) {
    this.close();
    const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
    if (deviceId) audio.deviceId = { exact: deviceId };
    this.stream = await navigator.mediaDevices.getUserMedia({ audio });
    this.context = new AudioContext({ sampleRate: SAMPLE_RATE });
    await this.context.audioWorklet.addModule("/static/worklet.js");
    const source = this.context.createMediaStreamSource(this.stream);
    const node = new AudioWorkletNode(this.context, "capture");
    const mute = this.context.createGain();
    mute.gain.value = 0;
    source.connect(node).connect(mute).connect(this.context.destination);
    node.port.onmessage = (e) => onChunk(new Int16Array(e.data.pcm), e.data.level);
    await this.context.resume();
  }

  close() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.context) this.context.close();
    this.stream = this.context = null;
  }
}

// Sends audio for one lecture; keeps every chunk until the server acknowledges it, reconnects
// after a drop and resends from the server's byte count, so nothing is lost or duplicated.
export class LiveUplink {
  constructor(lectureId, { onProbs, onState, onStopped, onError }) {
    Object.assign(this, { lectureId, onProbs, onState, onStopped, onError });
    this.chunks = []; // {offset, data: Uint8Array}, oldest first, not yet acknowledged
    this.total = 0; // bytes captured so far (= next offset)
    this.acked = 0; // bytes the server confirmed it has
    this.base = null; // the server's byte count at the first `ready`: a continued lecture
    // (interrupted, or left by a closed tab) goes on from there, so offsets are shifted by it
    this.next = 0; // index in chunks of the first chunk not sent on this socket
    this.stopping = false;
    this.closed = false;
    this.retry = 0;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/lectures/${this.lectureId}/live`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    ws.onmessage = (e) => this.handle(JSON.parse(e.data));
    ws.onclose = (e) => this.dropped(ws, e);
  }

  handle(msg) {
    if (msg.type === "ready") {
      if (this.base === null) this.rebase(msg.received_bytes);
      this.ready = true;
      this.retry = 0;
      this.ack(msg.received_bytes);
      this.next = 0;
      this.onState("connected", msg);
      this.flush();
    } else if (msg.type === "probs") {
      this.ack(msg.received_bytes);
      this.onProbs(msg);
    } else if (msg.type === "stopped") {
      this.closed = true;
      this.ws.close(1000, "stopped");
      this.onStopped(msg);
    } else if (msg.type === "error") {
      this.lastError = msg;
      this.onError(msg);
    }
  }

  rebase(base) {
    this.base = base;
    for (const chunk of this.chunks) chunk.offset += base;
    this.total += base;
    this.acked = base;
  }

  ack(received) {
    this.acked = Math.max(this.acked, received);
    let dropped = 0;
    while (this.chunks.length && this.chunks[0].offset + this.chunks[0].data.length <= this.acked) {
      this.chunks.shift();
      dropped += 1;
    }
    this.next = Math.max(0, this.next - dropped);
  }

  push(pcm) {
    const data = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    this.chunks.push({ offset: this.total, data });
    this.total += data.length;
    this.flush();
  }

  flush() {
    if (!this.ready || this.ws.readyState !== WebSocket.OPEN) return;
    while (this.next < this.chunks.length) {
      const { offset, data } = this.chunks[this.next++];
      const frame = new Uint8Array(8 + data.length);
      new DataView(frame.buffer).setBigUint64(0, BigInt(offset), true);
      frame.set(data, 8);
      this.ws.send(frame.buffer);
    }
    if (this.stopping && this.stopSentOn !== this.ws) {
      this.stopSentOn = this.ws;
      this.ws.send(JSON.stringify({ type: "stop" }));
    }
  }

  stop() {
    this.stopping = true;
    this.flush();
  }

  dropped(ws, event) {
    if (ws !== this.ws || this.closed) return;
    this.ready = false;
    const fatal = [4400, 4401, 4403, 4404, 4409, 4413].includes(event.code);
    if (fatal) {
      this.closed = true;
      this.onState("failed", this.lastError || { message: `closed (${event.code})` });
      return;
    }
    const delay = Math.min(5000, 250 * 2 ** this.retry++);
    this.onState("reconnecting", { delay, pending: this.total - this.acked });
    setTimeout(() => this.connect(), delay);
  }

  // For tests and the "connection lost" demo: drop the socket as a network failure would.
  dropConnection() {
    this.ws.close(4000, "client dropped");
  }
}

// Stops a recording that nothing feeds any more (its tab was closed or the network dropped):
// connects without a microphone and asks the server to stop; resolves with the summary.
export function stopRecording(lectureId) {
  return new Promise((resolve, reject) => {
    const uplink = new LiveUplink(lectureId, {
      onProbs: () => {},
      onState: (state, info) => { if (state === "failed") reject(new Error(info.message)); },
      onStopped: resolve,
      onError: () => {},
    });
    uplink.stop();
  });
}
