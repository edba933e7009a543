/* The options page: read the form into settings (FaceCheckSettings.clean validates) and back. */
'use strict';

const form = document.getElementById('form');
const say = (id, text) => { document.getElementById(id).textContent = text; };

function fill(s) {
  form.threshold.value = s.threshold ?? '';
  form.unsureBand.value = s.unsureBand ?? '';
  form.minImageSize.value = s.minImageSize;
  form.scanByDefault.checked = s.scanByDefault;
  form.runWhere.value = s.runWhere;
  form.autoServerOver.value = s.autoServerOver;
  form.serverUrl.value = s.serverUrl;
  form.serverToken.value = s.serverToken;
}

function read() {
  return FaceCheckSettings.clean({
    threshold: form.threshold.value === '' ? null : form.threshold.value,
    unsureBand: form.unsureBand.value === '' ? null : form.unsureBand.value,
    minImageSize: form.minImageSize.value,
    scanByDefault: form.scanByDefault.checked,
    runWhere: form.runWhere.value,
    autoServerOver: form.autoServerOver.value,
    serverUrl: form.serverUrl.value,
    serverToken: form.serverToken.value,
  });
}

async function main() {
  const contract = await fetch(chrome.runtime.getURL('model/contract.json')).then((r) => r.json()).catch(() => null);
  if (contract) {
    form.threshold.placeholder = String(contract.threshold);
    say('model-threshold', `empty: the model's own, ${contract.threshold} (${contract.model_version})`);
    if (typeof contract.unsure_from === 'number') {
      const width = Math.max(0, contract.threshold - contract.unsure_from);
      form.unsureBand.placeholder = width.toFixed(3);
      say('model-band', `empty: the model's own, ${width.toFixed(3)} wide (“Unsure” from ` +
        `${contract.unsure_from} up to ${contract.threshold})`);
    } else {
      form.unsureBand.placeholder = '0';
      say('model-band', "empty: the model's own; this model has no band (0)");
    }
  }
  fill(await FaceCheckSettings.load());
  form.addEventListener('input', () => say('status', 'Not saved yet.'));
  document.body.dataset.ready = 'true'; // the form shows the stored settings (tests wait for it)
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await FaceCheckSettings.save(read());
    fill(saved); // show what was kept after validation
    say('status', 'Saved.');
  });
  document.getElementById('reset').addEventListener('click', async () => {
    await chrome.storage.local.remove('settings');
    fill(await FaceCheckSettings.load());
    say('status', 'Defaults restored.');
  });
  document.getElementById('test').addEventListener('click', async () => {
    say('connection', 'Testing…');
    const r = await chrome.runtime.sendMessage({ type: 'facecheck-test-connection', settings: read() });
    say('connection', r && r.ok ? `Connected: ${r.detail}.` : `Not connected: ${(r && (r.detail || r.error)) || 'no answer'}.`);
    document.getElementById('connection').dataset.ok = String(Boolean(r && r.ok));
  });
}

main();
