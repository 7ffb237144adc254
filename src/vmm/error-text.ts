// What the control surfaces answer when something throws: the message of whatever was
// thrown. A client's request can make code throw anything (an Error, a string,
// undefined), and formatting it must not throw in turn, since the answer is written
// from a place where a second exception would end the VMM.

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}
