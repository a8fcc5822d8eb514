/**
 * The development identity provider's HTML pages: plain forms that work without JavaScript and load nothing from
 * elsewhere (oidc-provider's built-in pages import a web font from a CDN), so a test can sign in by posting them
 * and a machine without internet shows them whole.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:40px 16px;color:#1d2330}
main{max-width:360px;margin:0 auto;background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:24px 28px}
h1{font-size:1.3em;margin:0 0 4px}p.note{color:#5b6475;font-size:.9em}p.error{color:#a4001c}
label{display:block;margin:14px 0 4px;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:1em}
button{margin-top:18px;width:100%;padding:9px;font-size:1em;font-weight:600;cursor:pointer}
button.secondary{background:none;border:none;color:#5b6475;font-weight:400;margin-top:6px}
code{font-size:1.6em;letter-spacing:.08em}dl{font-size:.9em}dt{font-weight:600}dd{margin:0 0 8px}`;

/** Only inline styles; nothing else may load or run (the device pages' own `onfocus` hint is blocked, harmlessly). */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · custody (development sign-in)</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
<p class="note">custody development identity provider — demo accounts only, never for real evidence.</p>
</main>
</body>
</html>`;
}

export function loginPage(options: {
  uid: string;
  clientName: string;
  username?: string;
  error?: string;
}): string {
  const action = `/interaction/${encodeURIComponent(options.uid)}/login`;
  const abort = `/interaction/${encodeURIComponent(options.uid)}/abort`;
  return page(
    'Sign in',
    `<p>to <strong>${escapeHtml(options.clientName)}</strong></p>
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="${action}" autocomplete="off">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="${escapeHtml(options.username ?? '')}" autofocus required>
<label for="password">Password</label>
<input type="password" id="password" name="password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${abort}"><button type="submit" class="secondary">Cancel</button></form>
<p class="note">The demo logins are printed by <code style="font-size:1em">bash scripts/dev.sh</code>.</p>`,
  );
}

/** oidc-provider's device pages hand over a form (with its CSRF token) that our button submits. */
export function userCodeInputPage(form: string, problem: string | undefined): string {
  return page(
    'Connect a device',
    `${problem ? `<p class="error" role="alert">${escapeHtml(problem)}</p>` : '<p>Enter the code the custody command shows.</p>'}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function userCodeConfirmPage(
  form: string,
  clientName: string,
  userCode: string,
  device: { ip?: string; userAgent?: string },
): string {
  return page(
    'Confirm the device',
    `<p><strong>${escapeHtml(clientName)}</strong> asks to act in your name. Continue only if it shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
<dl><dt>Requested from</dt><dd>${escapeHtml(device.ip ?? 'unknown address')}</dd>
<dt>Program</dt><dd>${escapeHtml(device.userAgent ?? 'unknown')}</dd></dl>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Abort</button>`,
  );
}

export function deviceSuccessPage(clientName: string): string {
  return page(
    'Device connected',
    `<p>You are signed in to <strong>${escapeHtml(clientName)}</strong>. You can close this page.</p>`,
  );
}

export function errorPage(fields: Record<string, string | undefined>): string {
  const rows = Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  return page('Sign-in failed', `<dl>${rows}</dl>`);
}

export function logoutPage(form: string, host: string): string {
  return page(
    'Sign out',
    `<p>Sign out of ${escapeHtml(host)}?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
  );
}

export function loggedOutPage(): string {
  return page('Signed out', '<p>You are signed out.</p>');
}
