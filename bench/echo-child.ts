/**
 * Child process of `moe bench cluster`: one bare ZeroMQ echo server
 * (bench/echo.ts). Sends `{endpoint}` to the parent over IPC once bound;
 * closes and exits on the message "close" or when the parent goes.
 */
import { EchoServer } from "./echo.js";

const server = await EchoServer.bind();
let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  process.disconnect?.();
};
process.on("message", (m) => {
  if (m === "close") void stop();
});
process.on("disconnect", () => void stop());
process.send!({ endpoint: server.endpoint });
