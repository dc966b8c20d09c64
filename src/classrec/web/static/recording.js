// The tab's one recording. It lives outside the record view, so moving around the app (library,
// a lecture, upload) never stops it: the header shows it and leads back, and closing or
// reloading the tab asks first.
import { api } from "./api.js";
import { LiveUplink, Microphone, SAMPLE_RATE } from "./recorder.js";

const TRACE_WINDOWS = 312; // ten seconds of 32 ms windows
const ACTIVE = ["starting", "recording", "paused", "stopping"];

// idle (no microphone) → ready (microphone open) → starting → recording ⇄ paused → stopping →
// stopped; failed when the server refuses the socket for good.
class Recording {
  constructor() {
    this.mic = new Microphone();
    this.listeners = new Set();
    this.reset();
  }

  reset() {
    Object.assign(this, { state: "idle", lectureId: null, title: "", uplink: null, level: 0,
      probs: [], speech: null, connection: "–", free: undefined, message: "", result: null });
    this.done = new Promise((resolve) => { this.finished = resolve; });
  }

  get active() { return ACTIVE.includes(this.state); }

  get canPause() { return this.state === "recording" || this.state === "paused"; }

  // Seconds the server will have once everything captured is sent (continued lectures included).
  get elapsed() { return this.uplink ? this.uplink.total / 2 / SAMPLE_RATE : 0; }

  subscribe(listener) {
    this.listeners.add(listener);
    listener(this, "state");
    return () => this.listeners.delete(listener);
  }

  emit(change = "state") {
    for (const listener of this.listeners) listener(this, change);
  }

  async openMic(deviceId) {
    try {
      await this.mic.open(deviceId, (pcm, level) => this.chunk(pcm, level));
      if (!this.active) this.state = "ready";
      this.message = "Speak: the bar should move. Then start recording.";
    } catch (e) {
      this.message = `Microphone unavailable: ${e.message}`;
    }
    this.emit();
  }

  chunk(pcm, level) {
    this.level = level;
    if (this.state === "recording") this.uplink.push(pcm);
    this.emit("level");
  }

  // A new lecture titled `title`, or more audio at the end of lecture `lectureId`.
  async start({ title, lectureId }) {
    if (this.state !== "ready") return;
    this.state = "starting";
    this.emit();
    let lecture;
    try {
      lecture = lectureId ? await api("GET", `/api/lectures/${lectureId}`)
        : await api("POST", "/api/lectures", { title });
    } catch (e) {
      this.state = "ready";
      this.message = e.message;
      this.emit();
      return;
    }
    Object.assign(this, { lectureId: lecture.id, title: lecture.title, state: "recording",
      speech: false, message: "", probs: [], result: null, connection: "connecting" });
    this.uplink = new LiveUplink(lecture.id, {
      onProbs: (msg) => this.onProbs(msg),
      onState: (state, info) => this.onConnection(state, info),
      onStopped: (msg) => this.onStopped(msg),
      onError: (msg) => { this.message = msg.message; this.emit(); },
    });
    window.classrec = { uplink: this.uplink, lectureId: lecture.id };
    this.emit();
  }

  togglePause() {
    if (!this.canPause) return;
    this.state = this.state === "paused" ? "recording" : "paused";
    this.emit();
  }

  stop() {
    if (!this.canPause) return;
    this.state = "stopping";
    this.message = "Saving…";
    this.uplink.stop();
    this.emit();
  }

  onProbs(msg) {
    this.probs.push(...msg.probs);
    this.probs.splice(0, Math.max(0, this.probs.length - TRACE_WINDOWS));
    this.speech = msg.speech;
    if (msg.free_bytes !== undefined) this.free = msg.free_bytes;
    this.emit("probs");
  }

  onConnection(state, info) {
    this.connection = state;
    if (state === "connected" && info.free_bytes !== undefined) this.free = info.free_bytes;
    if (state === "failed") this.end("failed", `Recording failed: ${info.message}`);
    else this.emit();
  }

  onStopped(msg) {
    this.result = msg;
    this.connection = "closed";
    this.end("stopped", "");
  }

  end(state, message) {
    this.mic.close();
    Object.assign(this, { state, message, speech: null, level: 0 });
    this.emit();
    this.finished();
  }

  // The record view went away: a microphone opened only for a check is released.
  leaveView() {
    if (this.active) return;
    this.mic.close();
    this.reset();
  }
}

export const recording = new Recording();

window.addEventListener("beforeunload", (event) => {
  if (!recording.active) return;
  event.preventDefault();
  event.returnValue = ""; // older browsers need a value to ask
});
