// mote serve's web page: streaming chat against /v1/chat/completions and a live view of the
// expert cache (/v1/experts and /metrics). Plain browser JavaScript: no framework, no build step.
// Every piece of text from the model or the server goes through escapeHtml before it reaches
// innerHTML; markdown is applied to the escaped text only.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const el = {
    messages: $('messages'),
    emptyHint: $('empty-hint'),
    prompt: $('prompt'),
    send: $('send'),
    stop: $('stop'),
    composer: $('composer'),
    status: $('status'),
    statusDot: $('status-dot'),
    side: $('side'),
    modelName: $('model-name'),
    newChat: $('new-chat'),
    temperature: $('temperature'),
    topP: $('top-p'),
    maxTokens: $('max-tokens'),
    seed: $('seed'),
    system: $('system'),
    apiKey: $('api-key'),
    hitRate: $('hit-rate'),
    hitRateRecent: $('hit-rate-recent'),
    bytesPerToken: $('bytes-per-token'),
    decodeSpeed: $('decode-speed'),
    memory: $('memory'),
    memoryFill: $('memory-fill'),
    panel: $('expert-panel'),
    panelNote: $('panel-note'),
    heatWrap: $('heat-wrap'),
    canvas: $('heatmap'),
    tip: $('heat-tip'),
    caption: $('heat-caption'),
  };

  // ---------------------------------------------------------------- small helpers

  const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
  }

  function formatBytes(n) {
    if (!isFinite(n)) return '\u2013';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0;
    let v = Math.abs(n);
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
    return (n < 0 ? '-' : '') + v.toFixed(digits) + ' ' + units[u];
  }

  function formatCount(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return String(n);
  }

  function authHeaders() {
    const key = el.apiKey.value.trim();
    return key ? { Authorization: 'Bearer ' + key } : {};
  }

  // fetch with a time limit (every wait has one), same origin only.
  async function fetchWithTimeout(url, options, ms) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), ms);
    try {
      return await fetch(url, Object.assign({}, options, { signal: ctl.signal }));
    } finally {
      clearTimeout(timer);
    }
  }

  // An OpenAI-style error body ({"error":{"message":...}}) or any text, as one line.
  async function errorFromResponse(resp) {
    let text = '';
    try {
      text = await resp.text();
    } catch (e) {
      /* the body could not be read */
    }
    let message = text;
    try {
      const j = JSON.parse(text);
      if (j && j.error) message = typeof j.error === 'string' ? j.error : j.error.message || JSON.stringify(j.error);
    } catch (e) {
      /* not JSON: keep the text */
    }
    let line = 'HTTP ' + resp.status + (resp.statusText ? ' ' + resp.statusText : '');
    if (message) line += ': ' + message.trim().slice(0, 2000);
    if (resp.status === 401) line += ' (Settings: API key)';
    const retry = resp.headers.get('Retry-After');
    if (retry) line += ' (retry after ' + retry + ' s)';
    return line;
  }

  // ---------------------------------------------------------------- settings (kept in the browser)

  const SETTINGS = [
    ['temperature', el.temperature],
    ['top_p', el.topP],
    ['max_tokens', el.maxTokens],
    ['seed', el.seed],
    ['system', el.system],
  ];
  function loadSettings() {
    try {
      const saved = JSON.parse(localStorage.getItem('mote.settings') || '{}');
      for (const [k, input] of SETTINGS) if (typeof saved[k] === 'string') input.value = saved[k];
      const key = sessionStorage.getItem('mote.api_key');
      if (key) el.apiKey.value = key;
    } catch (e) {
      /* storage unavailable (file:// or private mode) */
    }
  }
  function saveSettings() {
    try {
      const out = {};
      for (const [k, input] of SETTINGS) out[k] = input.value;
      localStorage.setItem('mote.settings', JSON.stringify(out));
      sessionStorage.setItem('mote.api_key', el.apiKey.value); // the key only for this tab
    } catch (e) {
      /* storage unavailable */
    }
  }
  for (const [, input] of SETTINGS) input.addEventListener('change', saveSettings);
  el.apiKey.addEventListener('change', () => {
    saveSettings();
    fetchModels(); // the model list may need the key
    poll();
  });

  function numberOr(input, fallback) {
    const v = input.value.trim();
    if (v === '') return fallback;
    const n = Number(v);
    return isFinite(n) ? n : fallback;
  }

  // ---------------------------------------------------------------- markdown (minimal, by hand)

  // Inline spans of one line of raw text: code spans, links, bold, italic, strikethrough. The text
  // is escaped first; code spans and links are set aside as placeholders so that emphasis never
  // reaches inside them.
  function renderInline(raw) {
    const held = [];
    const hold = (html) => '\u0000' + (held.push(html) - 1) + '\u0000';
    let s = raw.replace(/\u0000/g, '');
    s = s.replace(/(`+)([^`\n]|[^`\n][\s\S]*?[^`\n])\1(?!`)/g, (m, ticks, code) =>
      hold('<code>' + escapeHtml(code.trim() === '' ? code : code.replace(/^ (.*) $/, '$1')) + '</code>'));
    s = escapeHtml(s);
    // URLs never contain a placeholder (\u0000), so held HTML cannot end up inside an attribute.
    s = s.replace(/\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s()\u0000]+)\)/g, (m, text, href) =>
      hold('<a href="' + href + '" target="_blank" rel="noopener noreferrer nofollow">' + emphasis(text) + '</a>' +
           '<span class="md-src"> (' + href + ')</span>'));
    s = s.replace(/(^|[\s(])((?:https?:\/\/)[^\s<\u0000]*[^\s<.,;:!?)'"\u0000])/g, (m, pre, href) =>
      pre + hold('<a href="' + href + '" target="_blank" rel="noopener noreferrer nofollow">' + href + '</a>'));
    s = emphasis(s);
    // Held pieces may hold others (a code span in a link's text): restore until none is left.
    for (let k = 0; k < 4 && s.indexOf('\u0000') >= 0; k++) s = s.replace(/\u0000(\d+)\u0000/g, (m, i) => held[Number(i)]);
    return s.replace(/\u0000/g, '');
  }

  function emphasis(s) {
    return s
      .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
      .replace(/(^|[^*\w])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?!\*)/g, '$1<em>$2</em>')
      .replace(/(^|[^\w])_(?=[^\s_])([^_\n]*?[^\s_])_(?!\w)/g, '$1<em>$2</em>')
      .replace(/~~(?=\S)([^~\n]*?\S)~~/g, '<del>$1</del>');
  }

  const FENCE_RE = /^ {0,3}(`{3,}|~{3,})\s*([^`]*?)\s*$/;
  const HEADING_RE = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const HR_RE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  const QUOTE_RE = /^ {0,3}>\s?(.*)$/;
  const LIST_RE = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

  function isBlockStart(line) {
    return FENCE_RE.test(line) || HEADING_RE.test(line) || HR_RE.test(line) || QUOTE_RE.test(line) || LIST_RE.test(line);
  }

  function dedent(lines) {
    let min = Infinity;
    for (const l of lines) if (l.trim() !== '') min = Math.min(min, l.match(/^\s*/)[0].length);
    if (!isFinite(min) || min === 0) return lines;
    return lines.map((l) => l.slice(Math.min(min, l.match(/^\s*/)[0].length)));
  }

  // The page keeps every letter and digit of the raw text in .content's textContent (list
  // numbers, a fence's info string, bullet markers in a visually hidden span), and a newline
  // between blocks, so the text read back from the DOM matches what the server sent. Button
  // labels are CSS content, not text.
  let codeBlockId = 0;
  function codeBlock(info, code) {
    const id = 'code-' + ++codeBlockId;
    return (
      '<div class="codeblock"><div class="code-head"><span class="lang">' + escapeHtml(info) +
      '</span><button type="button" class="copy" data-code="' + id + '" aria-label="copy code"></button></div>' +
      '<pre><code id="' + id + '">' + escapeHtml(code) + '</code></pre></div>\n'
    );
  }

  function renderMarkdown(src, depth) {
    depth = depth || 0;
    const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
    let html = '';
    let para = [];
    const flush = () => {
      if (para.length) html += '<p>' + para.map((l) => renderInline(l.trim())).join('<br>\n') + '</p>\n';
      para = [];
    };
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if ((m = line.match(FENCE_RE))) {
        flush();
        const fence = m[1];
        const body = [];
        i++;
        // An unterminated fence (still streaming) runs to the end of the text.
        while (i < lines.length && !(lines[i].trim().startsWith(fence) && lines[i].trim().replace(/[`~]/g, '') === ''))
          body.push(lines[i++]);
        i++;
        html += codeBlock(m[2], body.join('\n'));
        continue;
      }
      if (line.trim() === '') {
        flush();
        i++;
        continue;
      }
      if ((m = line.match(HEADING_RE))) {
        flush();
        const n = m[1].length;
        html += '<h' + n + '>' + renderInline(m[2]) + '</h' + n + '>\n';
        i++;
        continue;
      }
      if (HR_RE.test(line) && !(para.length && /^\s*-+\s*$/.test(line))) {
        flush();
        html += '<span class="md-src">' + escapeHtml(line.trim()) + '</span><hr>\n';
        i++;
        continue;
      }
      if (QUOTE_RE.test(line) && depth < 8) {
        flush();
        const body = [];
        while (i < lines.length && (m = lines[i].match(QUOTE_RE))) {
          body.push(m[1]);
          i++;
        }
        html += '<blockquote>' + renderMarkdown(body.join('\n'), depth + 1) + '</blockquote>\n';
        continue;
      }
      if ((m = line.match(LIST_RE)) && depth < 8) {
        flush();
        const r = renderList(lines, i, depth);
        html += r.html;
        i = r.next;
        continue;
      }
      para.push(line);
      i++;
    }
    flush();
    return html;
  }

  function renderList(lines, i, depth) {
    const first = lines[i].match(LIST_RE);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const sameList = (m) => m && m[1].length <= indent + 1 && /\d/.test(m[2]) === ordered;
    const items = []; // {marker, lines}
    while (i < lines.length) {
      const line = lines[i];
      const m = line.match(LIST_RE);
      if (sameList(m)) {
        items.push({ marker: m[2], lines: [m[3]] });
        i++;
        continue;
      }
      if (m && m[1].length <= indent + 1) break; // a list of the other kind
      const last = items[items.length - 1].lines;
      if (line.trim() === '') {
        let j = i + 1;
        while (j < lines.length && lines[j].trim() === '') j++;
        const next = j < lines.length ? lines[j] : '';
        const nextIndent = next.match(/^\s*/)[0].length;
        if (j < lines.length && (sameList(next.match(LIST_RE)) || nextIndent > indent + 1)) {
          last.push('');
          i = j;
          continue;
        }
        break;
      }
      const lineIndent = line.match(/^\s*/)[0].length;
      if (lineIndent > indent || !isBlockStart(line)) {
        last.push(line); // continuation (indented, or lazy)
        i++;
        continue;
      }
      break;
    }
    // Ordered lists show the numbers as written; bullets keep their marker as hidden text.
    let html = ordered ? '<ol class="literal">\n' : '<ul>\n';
    for (const item of items) {
      const rest = dedent(item.lines.slice(1));
      const restHtml = rest.some((l) => l.trim() !== '') ? renderMarkdown(rest.join('\n'), depth + 1) : '';
      const marker = ordered ? '<span class="marker">' + escapeHtml(item.marker) + '</span> '
                             : '<span class="md-src">' + escapeHtml(item.marker) + ' </span>';
      html += '<li>' + marker + renderInline(item.lines[0]) + (restHtml ? '\n' + restHtml : '') + '</li>\n';
    }
    html += ordered ? '</ol>\n' : '</ul>\n';
    return { html: html, next: i };
  }

  // Copy buttons of code blocks (event delegation; the code is read from the DOM, never re-parsed).
  el.messages.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button.copy');
    if (!btn) return;
    const code = document.getElementById(btn.dataset.code);
    if (!code) return;
    const text = code.textContent;
    const done = (ok) => {
      btn.dataset.state = ok ? 'copied' : 'failed';
      setTimeout(() => delete btn.dataset.state, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => done(true), () => done(fallbackCopy(text)));
    } else {
      done(fallbackCopy(text));
    }
  });
  function fallbackCopy(text) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    ta.remove();
    return ok;
  }

  // ---------------------------------------------------------------- chat

  let conversation = []; // [{role, content}] resent whole every turn (the server reuses the prefix)
  let controller = null; // AbortController of the running request
  let modelId = null;
  const modelReady = fetchModels();

  async function fetchModels() {
    try {
      const resp = await fetchWithTimeout('/v1/models', { headers: authHeaders() }, 3000);
      if (!resp.ok) return;
      const j = await resp.json();
      if (j && Array.isArray(j.data) && j.data.length && typeof j.data[0].id === 'string') {
        modelId = j.data[0].id;
        el.modelName.textContent = modelId;
        document.title = 'mote \u00b7 ' + modelId;
      }
    } catch (e) {
      /* no server (a static preview) or no models endpoint: send without a model name */
    }
  }

  function setStatus(generating) {
    el.status.textContent = generating ? 'generating' : 'idle';
    el.statusDot.classList.toggle('busy', generating);
    el.send.disabled = generating;
    el.stop.disabled = !generating;
  }

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }
  function scrollToBottom() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function addMessage(role, text) {
    if (el.emptyHint) el.emptyHint.remove();
    const div = document.createElement('div');
    div.className = 'msg ' + role;
    if (role === 'user') {
      div.textContent = text; // plain text: the user's words are never parsed as HTML
    } else {
      div.innerHTML =
        '<details class="reasoning" open hidden><summary>reasoning</summary><div class="reasoning-body"></div></details>' +
        '<div class="content"></div><div class="meta"></div>';
    }
    el.messages.appendChild(div);
    scrollToBottom();
    return div;
  }

  function showError(msgDiv, text) {
    const e = document.createElement('div');
    e.className = 'error';
    e.textContent = text;
    msgDiv.appendChild(e);
  }

  // One assistant message being streamed: text accumulates and the DOM follows it.
  function makeReplyView(div) {
    const content = div.querySelector('.content');
    const reasoning = div.querySelector('.reasoning');
    const reasoningBody = div.querySelector('.reasoning-body');
    const state = { answer: '', reasoning: '', scheduled: false };
    function paint() {
      state.scheduled = false;
      const stick = nearBottom();
      content.innerHTML = renderMarkdown(state.answer);
      if (state.reasoning) {
        reasoning.hidden = false;
        reasoningBody.textContent = state.reasoning;
        // Fold the reasoning away once the answer starts.
        if (state.answer && !state.folded) {
          reasoning.open = false;
          state.folded = true;
        }
      }
      if (stick) scrollToBottom();
    }
    return {
      state: state,
      add(delta) {
        if (typeof delta.reasoning_content === 'string') state.reasoning += delta.reasoning_content;
        if (typeof delta.content === 'string') state.answer += delta.content;
        // Short replies are painted at every chunk (each step visible, even for a fast model);
        // long ones once per frame, as re-rendering the markdown costs more.
        if (state.answer.length + state.reasoning.length < 8000) {
          paint();
        } else if (!state.scheduled) {
          state.scheduled = true;
          requestAnimationFrame(paint);
        }
      },
      flush: paint,
    };
  }

  // Splits a stream of bytes into SSE events and hands each event's data to onData.
  async function readSse(resp, onData) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder('utf-8');
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let idx;
      while ((idx = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const event = buffer.slice(0, idx);
        buffer = buffer.slice(idx + buffer.slice(idx).match(/^\r?\n\r?\n/)[0].length);
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data && onData(data) === false) {
          reader.cancel().catch(() => {});
          return;
        }
        // A microtask boundary per event: observers of the page see every step of a read that
        // carried many events.
        await null;
      }
      if (done) {
        if (buffer.trim().startsWith('data:')) onData(buffer.trim().slice(5).trim());
        return;
      }
    }
  }

  async function send() {
    const text = el.prompt.value;
    if (controller || text.trim() === '') return;
    el.prompt.value = '';
    saveSettings();
    addMessage('user', text);
    const div = addMessage('assistant', '');
    const view = makeReplyView(div);
    const meta = div.querySelector('.meta');
    const turn = conversation.concat([{ role: 'user', content: text }]);
    const messages = [];
    const system = el.system.value.trim();
    if (system) messages.push({ role: 'system', content: system });
    for (const m of turn) messages.push(m);

    controller = new AbortController();
    setStatus(true);
    const t0 = performance.now();
    let tFirst = 0;
    let usage = null;
    let timings = null;
    let finish = null;
    let streamError = null;
    let outcome = 'ok';
    try {
      await Promise.race([modelReady, new Promise((r) => setTimeout(r, 2000))]);
      const body = {
        messages: messages,
        stream: true,
        stream_options: { include_usage: true },
        temperature: numberOr(el.temperature, 0.7),
        top_p: numberOr(el.topP, 1),
        max_tokens: Math.max(1, Math.round(numberOr(el.maxTokens, 512))),
      };
      if (modelId) body.model = modelId;
      const seed = numberOr(el.seed, null);
      if (seed !== null) body.seed = Math.round(seed);
      const resp = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }, authHeaders()),
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!resp.ok) {
        streamError = await errorFromResponse(resp);
      } else if (!(resp.headers.get('Content-Type') || '').includes('text/event-stream')) {
        // A server that answered without streaming: one JSON completion.
        const j = await resp.json();
        if (j.error) streamError = j.error.message || JSON.stringify(j.error);
        const choice = j.choices && j.choices[0];
        if (choice && choice.message) {
          tFirst = performance.now();
          view.add(choice.message);
          finish = choice.finish_reason;
        }
        usage = j.usage || null;
      } else {
        await readSse(resp, (data) => {
          if (data === '[DONE]') return false;
          let chunk;
          try {
            chunk = JSON.parse(data);
          } catch (e) {
            return true; // not JSON (a comment or keep-alive): skip it
          }
          if (chunk.error) {
            streamError = chunk.error.message || JSON.stringify(chunk.error);
            return false;
          }
          if (chunk.usage) usage = chunk.usage;
          if (chunk.timings) timings = chunk.timings;
          const choice = chunk.choices && chunk.choices[0];
          if (choice) {
            if (choice.delta && (choice.delta.content || choice.delta.reasoning_content)) {
              if (!tFirst) tFirst = performance.now();
              view.add(choice.delta);
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
          return true;
        });
      }
    } catch (e) {
      if (e && e.name === 'AbortError') outcome = 'stopped';
      else streamError = 'network error: ' + (e && e.message ? e.message : String(e));
    } finally {
      controller = null;
    }
    const tEnd = performance.now();
    view.flush();
    div.classList.add('done');
    const answer = view.state.answer;
    if (streamError) {
      outcome = 'error';
      showError(div, streamError);
    }
    if (outcome !== 'error' && answer !== '') {
      conversation = turn.concat([{ role: 'assistant', content: answer }]);
    } else if (outcome === 'error' && answer === '') {
      // Nothing came back: the turn is not kept, so the next request does not carry it.
      el.prompt.value = el.prompt.value || text;
    }
    meta.textContent = replySummary(outcome, finish, usage, timings, t0, tFirst, tEnd);
    setStatus(false);
    if (!el.prompt.value) el.prompt.focus();
  }

  function replySummary(outcome, finish, usage, timings, t0, tFirst, tEnd) {
    const parts = [];
    if (outcome === 'stopped') parts.push('stopped');
    else if (finish === 'length') parts.push('cut at max_tokens');
    if (usage) {
      const completion = usage.completion_tokens || 0;
      const cached =
        (usage.prompt_tokens_details && usage.prompt_tokens_details.cached_tokens) || usage.cached_tokens || 0;
      let tps = timings && isFinite(timings.predicted_per_second) ? timings.predicted_per_second : null;
      if (tps === null && tFirst && completion > 1 && tEnd > tFirst) tps = (completion - 1) / ((tEnd - tFirst) / 1000);
      parts.push(completion + ' tokens');
      if (tps !== null) parts.push(tps.toFixed(1) + ' tok/s');
      parts.push((usage.prompt_tokens || 0) + ' prompt (' + cached + ' cached)');
    }
    if (tFirst) parts.push('first token ' + ((tFirst - t0) / 1000).toFixed(2) + ' s');
    if (outcome !== 'error') parts.push(((tEnd - t0) / 1000).toFixed(2) + ' s');
    return parts.join(' \u00b7 ');
  }

  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  el.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && controller) controller.abort();
  });
  el.stop.addEventListener('click', () => {
    if (controller) controller.abort();
  });
  el.newChat.addEventListener('click', () => {
    if (controller) controller.abort();
    conversation = [];
    el.messages.textContent = '';
    el.prompt.focus();
  });

  // ---------------------------------------------------------------- the expert panel

  let last = null; // previous metrics sample {t, hits, misses, bytes, tokens}
  let bytesPerToken = null;
  let bytesEstimated = false;
  let view = null; // last /v1/experts answer
  let polling = false;

  function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (line === '' || line[0] === '#') continue;
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
      if (!m) continue;
      const v = Number(m[3]);
      if (!isFinite(v)) continue;
      out[m[1]] = (out[m[1]] || 0) + v; // labelled series summed
    }
    return out;
  }

  function metricOr(metrics, names, fallback) {
    for (const n of names) if (metrics && n in metrics) return metrics[n];
    return fallback;
  }

  async function poll() {
    if (polling || document.hidden) return;
    polling = true;
    try {
      const [ex, met] = await Promise.allSettled([
        fetchWithTimeout('/v1/experts', { headers: authHeaders() }, 4000).then(async (r) => {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        }),
        fetchWithTimeout('/metrics', { headers: authHeaders() }, 4000).then(async (r) => {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return parseMetrics(await r.text());
        }),
      ]);
      const experts = ex.status === 'fulfilled' && !ex.value.error ? ex.value : null;
      const metrics = met.status === 'fulfilled' ? met.value : null;
      const notes = [];
      const why = (r) => (r && r.message) || 'error';
      if (!experts) notes.push('/v1/experts ' + (ex.status === 'rejected' ? why(ex.reason) : 'error'));
      if (!metrics) notes.push('/metrics ' + why(met.reason));
      const unauthorized = notes.length && notes.every((n) => n.endsWith('HTTP 401'));
      el.panelNote.textContent = unauthorized ? 'needs the API key (Settings)'
                               : notes.length ? 'unavailable: ' + notes.join(', ') : 'live \u00b7 1 s';
      if (!experts && !view) el.caption.textContent = 'waiting for /v1/experts';
      updateFigures(experts, metrics);
      if (experts) {
        view = experts;
        drawHeatmap();
      }
    } finally {
      polling = false;
    }
  }

  function updateFigures(experts, metrics) {
    const st = experts ? experts.stats || {} : {};
    const hits = metricOr(metrics, ['mote_expert_hits_total'], st.hits);
    const misses = metricOr(metrics, ['mote_expert_misses_total'], st.misses);
    const bytes = metricOr(metrics, ['mote_expert_bytes_read_total'], st.bytes_read);
    const tokens = metricOr(metrics, ['mote_generated_tokens_total'], undefined);
    const now = performance.now();

    if (hits !== undefined && misses !== undefined) {
      const total = hits + misses;
      el.hitRate.textContent = total > 0 ? ((100 * hits) / total).toFixed(1) + '%' : '\u2013';
      if (last && last.hits !== undefined) {
        const dh = hits - last.hits;
        const dm = misses - last.misses;
        el.hitRateRecent.textContent = dh + dm > 0 ? 'last second ' + ((100 * dh) / (dh + dm)).toFixed(1) + '%' : 'idle';
      }
    }
    // Bytes read per generated token over the last interval. When the token counter has not moved
    // (a server may count a request's tokens at its end) but experts were acquired, the tokens
    // are estimated from the acquisitions: one decoded token acquires top_k experts per MoE layer.
    const accesses = metricOr(metrics, ['mote_expert_accesses_total'], st.accesses);
    const perToken = experts && experts.n_layers > 0 && experts.top_k > 0 ? experts.n_layers * experts.top_k : 0;
    if (bytes !== undefined) {
      if (tokens !== undefined && last && last.tokens !== undefined && tokens > last.tokens) {
        bytesPerToken = Math.max(0, bytes - last.bytes) / (tokens - last.tokens);
        bytesEstimated = false;
      } else if (perToken && last && last.accesses !== undefined && accesses - last.accesses >= perToken) {
        bytesPerToken = Math.max(0, bytes - last.bytes) / ((accesses - last.accesses) / perToken);
        bytesEstimated = true;
      } else if (bytesPerToken === null && tokens > 0) {
        bytesPerToken = bytes / tokens; // since start, until a token is generated while watching
        bytesEstimated = false;
      }
    }
    const resident = (st.budget_bytes === 0) || (metrics && metricOr(metrics, ['mote_expert_budget_bytes'], 1) === 0);
    if (bytesPerToken !== null) el.bytesPerToken.textContent = (bytesEstimated ? '\u2248 ' : '') + formatBytes(bytesPerToken);
    else if (resident) el.bytesPerToken.textContent = '0 B';
    const tps = metricOr(metrics, ['mote_decode_tokens_per_second'], undefined);
    const speed = tps !== undefined && tps > 0 ? tps.toFixed(1) + ' tok/s decode' : '';
    el.decodeSpeed.textContent = resident && !speed ? 'all experts resident' : speed;

    const rss = metricOr(metrics, ['mote_resident_bytes', 'mote_rss_bytes', 'process_resident_memory_bytes'], undefined);
    const bound = metricOr(metrics, ['mote_memory_bound_bytes'], undefined);
    if (rss !== undefined) {
      if (bound) {
        const frac = rss / bound;
        el.memory.textContent = formatBytes(rss) + ' of ' + formatBytes(bound) + ' (' + (100 * frac).toFixed(0) + '%)';
        el.memoryFill.style.width = Math.min(100, 100 * frac).toFixed(1) + '%';
        el.memoryFill.classList.toggle('warn', frac > 0.85 && frac <= 1);
        el.memoryFill.classList.toggle('over', frac > 1);
      } else {
        el.memory.textContent = formatBytes(rss) + ' (no bound reported)';
        el.memoryFill.style.width = '0%';
      }
    }
    last = { t: now, hits: hits, misses: misses, bytes: bytes, tokens: tokens, accesses: accesses };
  }

  // Heat map: rows = MoE layers, columns = experts; colour = log use count; resident experts get
  // an outline (or, when cells are tiny, the others are dimmed); pinned ones a corner mark.
  const RAMP = [
    [43, 45, 110],
    [42, 122, 176],
    [43, 179, 154],
    [166, 216, 84],
    [253, 231, 37],
  ];
  function rampColor(t) {
    const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    return RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * f));
  }
  function cssColor(name) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    const m = v.match(/^#([0-9a-f]{6})$/i);
    if (!m) return [128, 128, 128];
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  const LABEL_W = 28;
  let geom = null; // {cellW, cellH, L, E}
  const offscreen = document.createElement('canvas');

  function drawHeatmap() {
    const canvas = el.canvas;
    const ctx = canvas.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    const L = view ? view.n_layers | 0 : 0;
    const E = view ? view.n_experts | 0 : 0;
    if (!L || !E || !Array.isArray(view.layers)) {
      canvas.style.width = '0px';
      canvas.style.height = '0px';
      el.caption.textContent = view ? 'this model has no routed experts' : '';
      geom = null;
      return;
    }
    const avail = Math.max(120, (el.heatWrap.clientWidth || 420) - LABEL_W - 2);
    const cellW = Math.max(1.5, Math.min(28, avail / E));
    // Rows fill the height left in the side column (at least 150 px; the wrap scrolls beyond).
    const room = el.side.getBoundingClientRect().bottom - el.heatWrap.getBoundingClientRect().top - 28;
    const cellH = Math.max(3, Math.min(22, Math.floor(Math.max(150, room) / L)));
    const w = Math.ceil(LABEL_W + cellW * E);
    const h = Math.ceil(cellH * L);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = w + 'px';
      canvas.style.height = h + 'px';
    }
    geom = { cellW: cellW, cellH: cellH, L: L, E: E };

    let maxUses = 0;
    let nResident = 0;
    let nPinned = 0;
    for (const row of view.layers)
      for (let e = 0; e < E; e++) {
        maxUses = Math.max(maxUses, row.uses[e] || 0);
        nResident += row.resident[e] ? 1 : 0;
        nPinned += row.pinned && row.pinned[e] ? 1 : 0;
      }
    const allResident = nResident === L * E;
    const bigCells = cellW >= 5 && cellH >= 5;
    const empty = cssColor('--heat-empty');
    const bg = cssColor('--panel');
    const pinned = cssColor('--pinned');
    const logMax = Math.log1p(maxUses);

    // One pixel per expert, scaled up without smoothing.
    offscreen.width = E;
    offscreen.height = L;
    const octx = offscreen.getContext('2d');
    const img = octx.createImageData(E, L);
    for (let r = 0; r < L; r++) {
      const row = view.layers[r];
      for (let e = 0; e < E; e++) {
        const uses = row.uses[e] || 0;
        let c = uses > 0 && logMax > 0 ? rampColor(Math.log1p(uses) / logMax) : empty;
        if (!bigCells && row.pinned && row.pinned[e]) c = pinned;
        else if (!bigCells && !allResident && !row.resident[e]) c = c.map((v, k) => Math.round(v * 0.35 + bg[k] * 0.65));
        const o = 4 * (r * E + e);
        img.data[o] = c[0];
        img.data[o + 1] = c[1];
        img.data[o + 2] = c[2];
        img.data[o + 3] = 255;
      }
    }
    octx.putImageData(img, 0, 0);

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(offscreen, LABEL_W, 0, cellW * E, cellH * L);

    if (bigCells) {
      ctx.lineWidth = 1;
      ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--resident').trim() || '#000';
      ctx.fillStyle = 'rgb(' + pinned.join(',') + ')';
      for (let r = 0; r < L; r++) {
        const row = view.layers[r];
        for (let e = 0; e < E; e++) {
          const x = LABEL_W + e * cellW;
          const y = r * cellH;
          if (row.resident[e] && !allResident) {
            ctx.strokeRect(Math.round(x) + 0.5, Math.round(y) + 0.5, Math.max(1, Math.round(cellW) - 2), Math.max(1, cellH - 2));
          }
          if (row.pinned && row.pinned[e]) {
            const s = Math.max(3, Math.min(cellW, cellH) * 0.45);
            ctx.beginPath();
            ctx.moveTo(x + cellW - s, y);
            ctx.lineTo(x + cellW, y);
            ctx.lineTo(x + cellW, y + s);
            ctx.closePath();
            ctx.fill();
          }
        }
      }
    }

    // Layer labels.
    ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#888';
    ctx.font = Math.min(11, Math.max(8, cellH - 1)) + 'px ' + 'ui-monospace, monospace';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const every = cellH >= 10 ? 1 : Math.ceil(10 / cellH) <= 2 ? 2 : Math.ceil(10 / cellH) <= 5 ? 5 : 10;
    for (let r = 0; r < L; r++) {
      if (r % every !== 0) continue;
      ctx.fillText(String(view.layers[r].layer), LABEL_W - 4, r * cellH + cellH / 2);
    }

    const st = view.stats || {};
    let caption = L + ' MoE layers \u00d7 ' + E + ' experts';
    if (view.top_k) caption += ', top-' + view.top_k;
    caption += ' \u00b7 max uses ' + formatCount(maxUses);
    if (allResident) caption += ' \u00b7 no expert budget: every expert resident';
    else caption += ' \u00b7 ' + nResident + ' resident (' + (st.slot_count || 0) + ' slots)' + (nPinned ? ', ' + nPinned + ' pinned' : '');
    if (!bigCells && !allResident) caption += ' \u00b7 dimmed = not resident';
    el.caption.textContent = caption;
    if (tipAt) showTip(tipAt.x, tipAt.y);
  }

  let tipAt = null;
  function showTip(x, y) {
    tipAt = { x: x, y: y };
    if (!geom || !view) return hideTip();
    const e = Math.floor((x - LABEL_W) / geom.cellW);
    const r = Math.floor(y / geom.cellH);
    if (e < 0 || e >= geom.E || r < 0 || r >= geom.L) return hideTip();
    const row = view.layers[r];
    el.tip.textContent =
      'layer ' + row.layer + ' \u00b7 expert ' + e + ' \u00b7 uses ' + (row.uses[e] || 0) +
      ' \u00b7 resident ' + (row.resident[e] ? 'yes' : 'no') + (row.pinned && row.pinned[e] ? ' \u00b7 pinned' : '');
    el.tip.hidden = false;
    const wrap = el.heatWrap;
    const left = Math.min(x + 14, wrap.scrollLeft + wrap.clientWidth - el.tip.offsetWidth - 4);
    el.tip.style.left = Math.max(0, left) + 'px';
    el.tip.style.top = (y + 14 + el.tip.offsetHeight > wrap.scrollTop + wrap.clientHeight ? y - el.tip.offsetHeight - 6 : y + 14) + 'px';
  }
  function hideTip() {
    el.tip.hidden = true;
  }
  el.canvas.addEventListener('mousemove', (ev) => {
    const rect = el.canvas.getBoundingClientRect();
    showTip(ev.clientX - rect.left, ev.clientY - rect.top);
  });
  el.canvas.addEventListener('mouseleave', () => {
    tipAt = null;
    hideTip();
  });

  if (window.ResizeObserver) {
    let lastWidth = 0;
    new ResizeObserver(() => {
      const w = el.heatWrap.clientWidth;
      if (w !== lastWidth) {
        lastWidth = w;
        if (view) drawHeatmap();
      }
    }).observe(el.heatWrap);
  }

  setInterval(poll, 1000);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poll();
  });

  // ---------------------------------------------------------------- start

  loadSettings();
  setStatus(false);
  poll();
  // ?autosend=TEXT: fill the prompt and send once (used by the browser test). The parameter is
  // dropped from the address so that a reload does not send again.
  const auto = new URLSearchParams(location.search).get('autosend');
  if (auto) {
    try {
      history.replaceState(null, '', location.pathname);
    } catch (e) {
      /* file:// previews */
    }
    el.prompt.value = auto;
    send();
  } else {
    el.prompt.focus();
  }

  // For tests and the console.
  window.mote = { renderMarkdown: renderMarkdown, escapeHtml: escapeHtml, parseMetrics: parseMetrics };
})();
