/** Step lines, with a spinner on a terminal; plain lines in CI logs. */
export function step(message: string): void {
  process.stdout.write(`  › ${message}\n`);
}

export async function withSpinner<T>(message: string, work: () => Promise<T>): Promise<T> {
  if (!process.stdout.isTTY) {
    step(message);
    return work();
  }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let index = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    process.stdout.write(`\r  ${frames[index++ % frames.length]} ${message} (${seconds}s)`);
  }, 100);
  try {
    const result = await work();
    process.stdout.write(`\r  ✔ ${message}\x1b[K\n`);
    return result;
  } catch (error) {
    process.stdout.write(`\r  ✖ ${message}\x1b[K\n`);
    throw error;
  } finally {
    clearInterval(timer);
  }
}

const STYLES = { bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;

/** ANSI colour on a terminal, plain text elsewhere and when NO_COLOR is set (no-color.org). */
export function paint(style: keyof typeof STYLES, text: string): string {
  if (!process.stdout.isTTY || process.env.NO_COLOR) return text;
  const [open, close] = STYLES[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}
