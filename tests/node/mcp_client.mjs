// The official MCP SDK client through the sidecar: connects to MCP_URL (with X-Proxy-Token),
// lists the tools, calls echo, then calls python_exec (which a rule blocks), and prints one JSON
// line: {"session_id", "tools", "echo", "blocked": {"code", "message"} | null, "python": ...}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const transport = new StreamableHTTPClientTransport(new URL(process.env.MCP_URL), {
  requestInit: { headers: { "X-Proxy-Token": process.env.PROXY_TOKEN } },
});
const client = new Client({ name: "aiwarden-test-agent", version: "1.0.0" });
await client.connect(transport);

const listed = await client.listTools();
const echo = await client.callTool({ name: "echo", arguments: { text: "hello through aiwarden" } });
let blocked = null;
let python = null;
try {
  python = await client.callTool({
    name: "python_exec",
    arguments: { code: "import os", user: "external" },
  });
} catch (err) {
  blocked = { code: err.code, message: err.message };
}
const out = {
  session_id: transport.sessionId,
  tools: listed.tools.map((t) => t.name).sort(),
  echo,
  blocked,
  python,
};
await transport.terminateSession();
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
