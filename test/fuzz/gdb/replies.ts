// The answers the remote protocol allows for each packet, from the protocol's
// description rather than from the stub's code: by the packet's letter (and, for
// q and v packets, its name), the shapes a reply may take.

const E = 'E[0-9a-fA-F]{2}';
export const ERROR = new RegExp(`^${E}$`);
/** T with name:value; pairs (thread, swbreak, watch...) or W with the exit status. */
export const STOP = /^(?:T[0-9a-f]{2}(?:[a-z]+:[0-9a-f]*;)*|W[0-9a-f]{2})$/;

const okOrError = new RegExp(`^(?:OK|${E})$`);
const anyOf = (...res: RegExp[]) => new RegExp(res.map((r) => `(?:${r.source})`).join('|'));

/** Replies to q packets: whichever query it was, one of these shapes. */
const QUERY = anyOf(
  /^$/, /^OK$/, ERROR, /^[01]$/, /^QC[0-9a-f]+$/, /^l$/, /^m[0-9a-f]+(?:,[0-9a-f]+)*$/,
  /^PacketSize=[0-9a-f]+(?:;[^;]+)*$/, /^[ml][\s\S]*$/, /^(?:[0-9a-f]{2})*$/,
);

/** Any reply to any packet (where the fuzzer cannot tell which packet it answers). */
export const ANY_REPLY = anyOf(QUERY, STOP, okOrError, /^(?:[0-9a-f]{16}|x{16}){33}$/, /^(?:x{8}|x{16})$/, /^vCont(?:;[cCsStr])+$/);

/** The reply shapes allowed for `payload`; undefined when it gets no reply (k). */
export function replyShape(payload: string): RegExp | undefined {
  switch (payload[0]) {
    case '?': return STOP;
    case 'g': return anyOf(new RegExp(`^(?:[0-9a-f]{16}|x{16}){33}$`), ERROR);
    case 'p': return anyOf(/^(?:[0-9a-f]{8}|[0-9a-f]{16}|x{8}|x{16})$/, ERROR);
    case 'm': return anyOf(/^(?:[0-9a-f]{2})*$/, ERROR);
    case 'G': case 'H': case 'T': case 'P': case 'M': case 'X': case 'D': return okOrError;
    case 'Z': case 'z': return anyOf(okOrError, /^$/);
    case 'c': case 's': case 'C': case 'S': return anyOf(STOP, ERROR);
    case 'q': return QUERY;
    case 'Q': return /^(?:OK|)$/;
    case 'k': return undefined;
    case 'v':
      if (payload === 'vCont?') return /^vCont(?:;[cCsStr])+$/;
      if (payload.startsWith('vCont;')) return anyOf(STOP, ERROR);
      if (payload === 'vKill' || payload.startsWith('vKill;')) return okOrError;
      return /^$/;
    default: return /^$/;
  }
}

/** Packets after which the target runs until it stops: the answer is a stop reply,
 *  later. A step must stop by itself; a continue may need a Ctrl-C. */
export function resumeKind(payload: string): 'step' | 'continue' | undefined {
  if (/^[sS]/.test(payload)) return 'step';
  if (/^[cC]/.test(payload)) return 'continue';
  if (!payload.startsWith('vCont;')) return undefined;
  const acts = payload.slice(6).split(';').map((a) => a[0]);
  if (acts.some((a) => a === 's' || a === 'S')) return 'step';
  if (acts.some((a) => a === 'c' || a === 'C')) return 'continue';
  return undefined;
}

/** Packets after which the stub ends the connection. */
export const ends = (payload: string) => payload[0] === 'k' || payload[0] === 'D' || payload === 'vKill' || payload.startsWith('vKill;');

/** Console output the stub sends before qRcmd's answer (O + hex), not an answer. */
export const isOutput = (payload: string) => /^O(?:[0-9a-f]{2})+$/.test(payload);

/** A stop reply's thread, when it names one. */
export function stopThread(payload: string): number | undefined {
  const m = /thread:([0-9a-f]+);/.exec(payload);
  return m ? parseInt(m[1], 16) : undefined;
}
