// Two ends of a real loopback TCP connection, for migrations between Vms in one process.

import { createServer, connect, type Socket } from 'node:net';

export async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = connect(port, '127.0.0.1');
  const b = await accepted;
  server.close();
  return [a, b];
}
