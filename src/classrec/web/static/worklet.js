// Runs on the audio thread: gathers 128-sample frames into 1600-sample (100 ms) chunks of
// little-endian int16 and posts them, with their RMS level, to the page: one WebSocket frame
// and one level-meter update per chunk, 10 a second (fewer, larger frames cost the server less
// per second of audio; the window latency stays under the chunk length plus one hub tick).
const CHUNK = 1600;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Int16Array(CHUNK);
    this.filled = 0;
    this.sumSquares = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      this.sumSquares += s * s;
      this.buffer[this.filled++] = s < 0 ? s * 32768 : s * 32767;
      if (this.filled === CHUNK) {
        const level = Math.sqrt(this.sumSquares / CHUNK);
        this.port.postMessage({ pcm: this.buffer.buffer, level }, [this.buffer.buffer]);
        this.buffer = new Int16Array(CHUNK);
        this.filled = 0;
        this.sumSquares = 0;
      }
    }
    return true;
  }
}

registerProcessor("capture", CaptureProcessor);
