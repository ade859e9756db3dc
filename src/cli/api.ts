// The HTTP side of the `kiln` client commands: JSON requests to a Kiln server with the API key as
// a bearer token, and the errors a person can act on: a server that cannot be reached names the
// URL and how to point the client elsewhere; a 4xx or 5xx answer prints the server's own message.

export interface ApiOptions {
  /** the server's base URL (--url, KILN_URL; default http://127.0.0.1:3000) */
  url: string;
  /** KILN_API_KEY: sent as Authorization: Bearer <key> */
  apiKey?: string | undefined;
}

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** An error that ends the command: its message is printed as is, with this exit code. */
export class ClientError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly status?: number, readonly code?: string) {
    super(message);
  }
}

/** The base URL from --url or KILN_URL, checked (a typo should not become a confusing fetch error). */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flag ?? (env.KILN_URL || DEFAULT_URL);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ClientError(`${flag !== undefined ? '--url' : 'KILN_URL'}: expected an http(s) URL such as ${DEFAULT_URL}, got ${JSON.stringify(raw)}`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ClientError(`${flag !== undefined ? '--url' : 'KILN_URL'}: expected an http(s) URL, got ${JSON.stringify(raw)}`, 2);
  return raw.replace(/\/+$/, '');
}

/** Why a fetch failed, in words: the system error's code when there is one (ECONNREFUSED, ...). */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}

export class Api {
  readonly url: string;
  private readonly key: string | undefined;

  constructor(o: ApiOptions) {
    this.url = o.url;
    this.key = o.apiKey || undefined;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), ...extra };
  }

  unreachable(e: unknown): ClientError {
    return new ClientError(`cannot reach the Kiln server at ${this.url} (${networkReason(e)}); start one with \`kiln serve\`, or point --url or KILN_URL at it`);
  }

  /** The server's error answer as a ClientError: its message and code. */
  async failure(res: Response): Promise<ClientError> {
    const text = await res.text().catch(() => '');
    let message = text.trim() || res.statusText;
    let code: string | undefined;
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (body.error?.message) message = body.error.message;
      code = body.error?.code;
    } catch {
      // not JSON (a proxy's page, say): the text as it came
    }
    const hint = res.status === 401 ? ' (set KILN_API_KEY to a key the server accepts)' : res.status === 403 ? ' (this API key may only read)' : '';
    return new ClientError(`${message}${hint} [${res.status}${code ? ` ${code}` : ''}]`, 1, res.status, code);
  }

  /** fetch with the key; network failures become ClientErrors. */
  async fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { ...init, headers: this.headers(init.headers) });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw this.unreachable(e);
    }
  }

  /** A JSON request; a non-2xx answer throws the server's message. */
  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw await this.failure(res);
    return (res.status === 204 ? undefined : await res.json()) as T;
  }
}
