// The official `openai` Node SDK through aiwarden (issue 3, acceptance 5).
//
// Environment: PROXY_URL (http://127.0.0.1:PORT, aiwarden's forward listener) and PROXY_CA
// (aiwarden's CA, STATE_DIR/ca/ca.pem). The SDK talks to its default https://api.openai.com/v1
// through undici's ProxyAgent (CONNECT), trusting only PROXY_CA for the intercepted TLS.
// Does one chat completion and one streamed one; prints a JSON summary on stdout and exits 0,
// or prints the error on stderr and exits 1.
import fs from 'node:fs';
import OpenAI from 'openai';
import { fetch, ProxyAgent } from 'undici';

const MODEL = process.env.OPENAI_MODEL || 'gpt-4o-mini';

async function main() {
  const proxyUrl = process.env.PROXY_URL;
  const proxyCa = process.env.PROXY_CA;
  if (!proxyUrl || !proxyCa) throw new Error('PROXY_URL and PROXY_CA must be set');
  const dispatcher = new ProxyAgent({
    uri: proxyUrl,
    requestTls: { ca: fs.readFileSync(proxyCa) },
  });
  const client = new OpenAI({
    apiKey: 'sk-test',
    // baseURL left at its default, https://api.openai.com/v1
    fetch, // undici's fetch, paired with undici's dispatcher (SDK README, "Configuring proxies")
    fetchOptions: { dispatcher },
    maxRetries: 0,
    timeout: 20000,
  });

  const completion = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are a calculator.' },
      { role: 'user', content: 'What is 4 + 4?' },
    ],
  });

  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Count to three, streaming.' }],
    stream: true,
  });
  const deltas = [];
  const chunkIds = new Set();
  let finishReason = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    chunkIds.add(chunk.id);
    const choice = chunk.choices[0];
    if (choice?.delta?.content) deltas.push(choice.delta.content);
    if (choice?.finish_reason) finishReason = choice.finish_reason;
  }

  await dispatcher.close();
  process.stdout.write(JSON.stringify({
    baseURL: client.baseURL,
    completion: {
      id: completion.id,
      object: completion.object,
      model: completion.model,
      content: completion.choices[0].message.content,
      role: completion.choices[0].message.role,
      finish_reason: completion.choices[0].finish_reason,
      usage: completion.usage,
    },
    stream: { chunks, ids: [...chunkIds], deltas, text: deltas.join(''), finish_reason: finishReason },
  }) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`openai_chat.mjs: ${err?.stack || err}\n`);
  if (err?.cause) process.stderr.write(`cause: ${err.cause?.stack || err.cause}\n`);
  process.exit(1);
});
