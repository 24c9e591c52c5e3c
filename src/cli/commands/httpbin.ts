/** `meshgate httpbin`: the bundled httpbin-compatible app, in the foreground. */
import { startHttpbin } from '../../httpbin/httpbin.js';

export async function httpbin(o: { port: number; host: string }): Promise<void> {
  const app = await startHttpbin({ port: o.port, host: o.host });
  process.stdout.write(`httpbin listening on http://${o.host}:${app.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void app.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
