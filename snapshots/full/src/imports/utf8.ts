import { isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Checks the bytes of a stream are UTF-8 as they flow, chunk by chunk (a fatal TextDecoder in
 * streaming mode, so a character split across chunks is fine) and records the lines holding an
 * invalid or truncated sequence. The CSV parser would otherwise turn such bytes into U+FFFD
 * silently, and the table would store text the file never said.
 *
 * Lines are counted the way csv-parse counts them: it takes the first line break it meets (\n,
 * \r\n or a lone \r) as the record delimiter, and so does this. The break byte never occurs inside
 * a multi-byte sequence, so each line is decoded on its own: a sequence cut short by a line break
 * is an error of that line, and the error never spills into the next one.
 */
export class Utf8Lines {
  /** lines (1-based, in order) holding bytes that are not UTF-8 */
  readonly badLines: number[] = [];
  private decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private line = 1;
  private lineBad = false;
  /** the line break byte, once known (LF covers \r\n) */
  private eol: number | undefined;
  /** the previous chunk ended with the file's first \r: this chunk's first byte tells \r from \r\n */
  private pendingCr = false;

  /** The next chunk of the stream. */
  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.eol === undefined) this.detectEol(chunk);
    let start = 0;
    if (this.eol !== undefined) {
      const last = chunk.lastIndexOf(this.eol);
      let tried = false;
      for (let end = chunk.indexOf(this.eol, start); end !== -1; end = chunk.indexOf(this.eol, start)) {
        this.check(chunk.subarray(start, end + 1), false);
        this.endLine();
        start = end + 1;
        // the decoder holds nothing now: when the chunk's remaining whole lines are all UTF-8 (the
        // usual case), they are counted without decoding them line by line (tried once per chunk)
        if (!tried && start <= last && isUtf8(chunk.subarray(start, last + 1))) {
          for (let at = chunk.indexOf(this.eol, start); at !== -1 && at <= last; at = chunk.indexOf(this.eol, at + 1)) this.endLine();
          start = last + 1;
          break;
        }
        tried = true;
      }
    }
    this.check(chunk.subarray(start), true);
  }

  /** The end of the stream: a sequence cut short by it is an error of the last line. */
  end(): void {
    this.check(new Uint8Array(0), false);
  }

  private detectEol(chunk: Buffer): void {
    if (this.pendingCr) {
      this.eol = chunk[0] === LF ? LF : CR;
      // the \r that ended the previous chunk was a line break of its own
      if (this.eol === CR) this.endLine();
      return;
    }
    const lf = chunk.indexOf(LF);
    const cr = chunk.indexOf(CR);
    if (cr === -1 || (lf !== -1 && lf < cr)) {
      if (lf !== -1) this.eol = LF;
    } else if (cr === chunk.length - 1) {
      this.pendingCr = true;
    } else {
      this.eol = chunk[cr + 1] === LF ? LF : CR;
    }
  }

  private check(bytes: Uint8Array, stream: boolean): void {
    try {
      this.decoder.decode(bytes, { stream });
    } catch {
      // the fatal decoder resets itself after an error; the line is marked once
      this.lineBad = true;
      this.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    }
    if (!stream && this.lineBad) this.markBad();
  }

  private markBad(): void {
    if (this.badLines[this.badLines.length - 1] !== this.line) this.badLines.push(this.line);
  }

  private endLine(): void {
    if (this.lineBad) this.markBad();
    this.lineBad = false;
    this.line += 1;
  }
}
