// One chat through aiwarden with an official SDK, reporting what the app sees (issue 5): the
// answer, or the SDK's error (status, message, type) when a guardrail refused the request or cut
// the stream.
//
// Environment: PROXY_URL, PROXY_CA (as openai_chat.mjs); SDK = openai | anthropic; PROMPT (the
// user message); STREAM = 1 to stream. Prints one JSON object on stdout and exits 0 whether the
// call succeeded or the SDK raised an API error; any other failure exits 1.
import fs from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { fetch, ProxyAgent } from 'undici';

async function chatOpenAi(fetchOptions, prompt, stream) {
  const client = new OpenAI({ apiKey: 'sk-test', fetch, fetchOptions, maxRetries: 0, timeout: 20000 });
  const params = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
  if (!stream) {
    const c = await client.chat.completions.create(params);
    return { text: c.choices[0].message.content };
  }
  const deltas = [];
  const s = await client.chat.completions.create({ ...params, stream: true });
  for await (const chunk of s) {
    const d = chunk.choices[0]?.delta?.content;
    if (d) deltas.push(d);
  }
  return { deltas, text: deltas.join('') };
}

async function chatAnthropic(fetchOptions, prompt, stream) {
  const client = new Anthropic({ apiKey: 'sk-ant-test', fetch, fetchOptions, maxRetries: 0, timeout: 20000 });
  const params = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: prompt }] };
  if (!stream) {
    const m = await client.messages.create(params);
    return { text: m.content.filter((b) => b.type === 'text').map((b) => b.text).join('') };
  }
  const deltas = [];
  const s = await client.messages.create({ ...params, stream: true });
  for await (const ev of s) {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') deltas.push(ev.delta.text);
  }
  return { deltas, text: deltas.join('') };
}

async function main() {
  const { PROXY_URL, PROXY_CA, SDK, PROMPT } = process.env;
  if (!PROXY_URL || !PROXY_CA || !SDK || PROMPT === undefined) {
    throw new Error('PROXY_URL, PROXY_CA, SDK and PROMPT must be set');
  }
  const dispatcher = new ProxyAgent({ uri: PROXY_URL, requestTls: { ca: fs.readFileSync(PROXY_CA) } });
  const stream = process.env.STREAM === '1';
  const chat = SDK === 'anthropic' ? chatAnthropic : chatOpenAi;
  let out;
  try {
    out = { ok: true, ...(await chat({ dispatcher }, PROMPT, stream)) };
  } catch (err) {
    const isApiError = err instanceof OpenAI.APIError || err instanceof Anthropic.APIError;
    if (!isApiError) throw err;
    out = {
      ok: false,
      status: err.status ?? null,
      message: err.message,
      error: err.error ?? null,
      decision: err.headers?.get?.('x-aiwarden-decision') ?? err.headers?.['x-aiwarden-decision'] ?? null,
    };
  }
  await dispatcher.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`guarded_chat.mjs: ${err?.stack || err}\n`);
  if (err?.cause) process.stderr.write(`cause: ${err.cause?.stack || err.cause}\n`);
  process.exit(1);
});
