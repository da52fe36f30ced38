import { usageError } from '../../errors.js';
import { getPath, parsePath } from './paths.js';

/**
 * The filter language of `dlq show|redrive --filter`: conditions `PATH OP VALUE` joined by `&&`
 * (or `and`) and `||` (or `or`), `&&` binding tighter. OP is one of `=`, `!=`, `~` (regular
 * expression), `!~`, `>`, `>=`, `<`, `<=`. VALUE is the rest up to the next `&&`/`||`, or quoted
 * with `'` or `"` (a backslash escapes the quote and itself), so it may hold `&&`, `||` and
 * spaces. PATH names a field of the message view (filterView: errorClass, failureClass, reason,
 * count, attempts, statusCode, orderId, destination, format, originalTopic, originalQueue,
 * headers.NAME, payload.a.b).
 * Example: `errorClass=HttpGone && payload.url~^http://127.0.0.1:8094/hooks/v1 || reason=expired`.
 */
export type Predicate = (view: Record<string, unknown>) => boolean;

/** A parsed filter, with the view's top-level fields its conditions read (`payload` for `payload.url`). */
export type Filter = Predicate & { readonly fields: ReadonlySet<string> };

const EXAMPLE = `orderbus dlq show DLQ --filter 'errorClass=HttpGone && payload.note = "a && b" || reason=expired'`;
const OPS = ['!=', '!~', '>=', '<=', '=', '~', '>', '<'] as const;
type Op = (typeof OPS)[number];

const bad = (message: string) => usageError('BAD_FILTER', message, EXAMPLE);

/** A condition's value as text: what `=` and `~` compare (objects as JSON). */
function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

function condition(path: string, op: Op, value: string, source: string): Predicate {
  const keys = parsePath(path);
  let re: RegExp | undefined;
  if (op === '~' || op === '!~') {
    try {
      re = new RegExp(value);
    } catch (e) {
      throw bad(`bad regular expression in '${source}': ${(e as Error).message}`);
    }
  }
  return (view) => {
    const s = asText(getPath(view, keys));
    switch (op) {
      case '=':
        return s === value;
      case '!=':
        return s !== value;
      case '~':
        return (re as RegExp).test(s);
      case '!~':
        return !(re as RegExp).test(s);
      case '>':
        return Number(s) > Number(value);
      case '>=':
        return Number(s) >= Number(value);
      case '<':
        return Number(s) < Number(value);
      default:
        return Number(s) <= Number(value);
    }
  };
}

/** Reads the expression left to right: conditions and the `&&` / `||` between them. */
class Scanner {
  private i = 0;
  /** The top-level fields the conditions read so far. */
  readonly fields = new Set<string>();
  constructor(private readonly s: string) {}

  done(): boolean {
    this.skipSpace();
    return this.i >= this.s.length;
  }

  private skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++;
  }

  /** `&&`, `||`, `and`, `or` at the cursor (after spaces), consumed; undefined if none. */
  joiner(): '&&' | '||' | undefined {
    this.skipSpace();
    const m = /^(&&|\|\||and(?=\s)|or(?=\s))/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0] === '&&' || m[0] === 'and' ? '&&' : '||';
  }

  /** Where an unquoted value ends: the next joiner (` and `/` or ` need a space before them). */
  private valueEnd(): number {
    const m = /&&|\|\||\s(and|or)\s/.exec(this.s.slice(this.i));
    return m ? this.i + m.index : this.s.length;
  }

  condition(): Predicate {
    this.skipSpace();
    const start = this.i;
    const path = /^[\w.$-]+/.exec(this.s.slice(this.i))?.[0];
    if (path) this.i += path.length;
    this.skipSpace();
    const op = OPS.find((o) => this.s.startsWith(o, this.i));
    if (!path || !op) {
      const text = this.s.slice(start, this.valueEnd()).trim();
      throw bad(`cannot parse filter condition '${text}' (PATH OP VALUE, OP one of ${OPS.join(' ')})`);
    }
    this.i += op.length;
    this.skipSpace();
    const quote = this.s[this.i];
    let value: string;
    if (quote === '"' || quote === "'") {
      value = this.quoted(quote, start);
    } else {
      const end = this.valueEnd();
      value = this.s.slice(this.i, end).trim();
      this.i = end;
    }
    this.fields.add(parsePath(path)[0] ?? path);
    return condition(path, op, value, this.s.slice(start, this.i).trim());
  }

  private quoted(quote: string, start: number): string {
    let out = '';
    for (let j = this.i + 1; j < this.s.length; j++) {
      const c = this.s[j] as string;
      if (c === '\\' && (this.s[j + 1] === quote || this.s[j + 1] === '\\')) out += this.s[++j];
      else if (c === quote) {
        this.i = j + 1;
        return out;
      } else out += c;
    }
    throw bad(`unterminated ${quote} in filter condition '${this.s.slice(start).trim()}'`);
  }
}

export function parseFilter(expr: string | undefined): Filter {
  if (expr === undefined || expr.trim() === '')
    return Object.assign(() => true, { fields: new Set<string>() });
  const sc = new Scanner(expr);
  // Disjunction of conjunctions: `a && b || c` is `(a && b) || c`.
  const any: Predicate[][] = [[sc.condition()]];
  while (!sc.done()) {
    const j = sc.joiner();
    if (!j) throw bad(`expected && or || in filter '${expr}'`);
    if (j === '||') any.push([]);
    (any[any.length - 1] as Predicate[]).push(sc.condition());
  }
  const pred: Predicate = (view) => any.some((all) => all.every((c) => c(view)));
  return Object.assign(pred, { fields: sc.fields });
}
