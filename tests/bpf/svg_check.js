// SPDX-License-Identifier: MIT
// Runs the script embedded in an `async-inspect profile --svg` flame graph against a
// minimal DOM built from the file, and checks that zoom and search behave:
//   node tests/bpf/svg_check.js FILE.svg ZOOM_REGEX SEARCH_REGEX
// (zooms to the first frame whose name matches ZOOM_REGEX)
// Exits 0 and prints what it checked, or 1 with the reason.
'use strict';
const fs = require('fs');

function die(msg) {
	console.error('svg_check: ' + msg);
	process.exit(1);
}

const [file, zoomName, query] = process.argv.slice(2);
if (!query)
	die('usage: svg_check.js FILE.svg ZOOM_REGEX SEARCH_REGEX');
const svg = fs.readFileSync(file, 'utf8');
const unesc = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
	.replace(/&apos;/g, "'").replace(/&amp;/g, '&');

class El {
	constructor(attrs) {
		this.attrs = Object.assign({}, attrs);
		this.style = {};
		this.handlers = {};
		this.textContent = '';
		this.kids = {};
	}
	getAttribute(n) { return n in this.attrs ? this.attrs[n] : null; }
	setAttribute(n, v) { this.attrs[n] = String(v); }
	addEventListener(ev, fn) { this.handlers[ev] = fn; }
	querySelector(sel) { return this.kids[sel] || null; }
	fire(ev) { this.handlers[ev].call(this, { stopPropagation() {} }); }
}

function attrsOf(tag) {
	const a = {};
	for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g))
		a[m[1]] = unesc(m[2]);
	return a;
}

const frames = [];
const re = /<g class="f"([^>]*)><title>([^<]*)<\/title><rect([^>]*)\/><text([^>]*)>([^<]*)<\/text><\/g>/g;
for (const m of svg.matchAll(re)) {
	const g = new El(attrsOf(m[1]));
	g.kids.title = new El({});
	g.kids.title.textContent = unesc(m[2]);
	g.kids.rect = new El(attrsOf(m[3]));
	g.kids.text = new El(attrsOf(m[4]));
	g.kids.text.textContent = unesc(m[5]);
	frames.push(g);
}
if (!frames.length)
	die('no frames');
const byId = { reset: new El({}), search: new El({}), details: new El({}), matched: new El({}) };
global.document = {
	querySelectorAll: (sel) => (sel === 'g.f' ? frames : []),
	getElementById: (id) => byId[id] || die('no element #' + id),
};
let promptAnswer = query;
global.prompt = () => promptAnswer;
global.alert = (msg) => die('alert: ' + msg);

const script = svg.match(/<!\[CDATA\[([\s\S]*)\]\]>/);
if (!script)
	die('no script');
eval(script[1]); // eslint-disable-line no-eval

const W = +svg.match(/<svg[^>]* width="(\d+)"/)[1];
const total = +svg.match(/data-total="(\d+)"/)[1];
const x = (g) => +g.kids.rect.attrs.x;
const w = (g) => +g.kids.rect.attrs.width;
const visible = (g) => g.style.display !== 'none';

// Zoom: the clicked frame spans the full width; frames outside it are hidden;
// its descendants scale with it; ancestors stay, full width and faded.
const z = frames.find((g) => new RegExp(zoomName).test(g.attrs['data-name']));
if (!z)
	die('no frame matches ' + zoomName);
const zx = +z.attrs['data-x'], zc = +z.attrs['data-count'], zd = +z.attrs['data-depth'];
z.fire('click');
const full = W - 20;
if (Math.abs(w(z) - full) > 0.01 || Math.abs(x(z) - 10) > 0.01)
	die(`zoomed frame spans x=${x(z)} w=${w(z)}, want 10 and ${full}`);
let shown = 0, hidden = 0;
for (const g of frames) {
	const gx = +g.attrs['data-x'], gc = +g.attrs['data-count'], gd = +g.attrs['data-depth'];
	const inside = gd >= zd && gx >= zx && gx + gc <= zx + zc;
	const ancestor = gd < zd && gx <= zx && gx + gc >= zx + zc;
	if (visible(g) !== (inside || ancestor))
		die(`frame ${g.attrs['data-name']} visibility wrong after zoom`);
	if (inside && Math.abs(w(g) - (gc * full) / zc) > 0.01)
		die(`frame ${g.attrs['data-name']} not scaled with the zoom`);
	if (ancestor && +g.style.opacity !== 0.5)
		die('ancestor not faded');
	visible(g) ? shown++ : hidden++;
}
byId.reset.fire('click');
if (frames.some((g) => !visible(g)))
	die('reset zoom left frames hidden');
if (frames.some((g) => Math.abs(w(g) - (+g.attrs['data-count'] * full) / total) > 0.01))
	die('reset zoom did not restore widths');

// Search: matching frames turn magenta; "Matched" is the share of samples under them.
byId.search.fire('click');
const rx = new RegExp(query);
const hits = frames.filter((g) => rx.test(g.attrs['data-name']));
if (!hits.length)
	die('nothing matches ' + query);
if (frames.some((g) => (g.kids.rect.attrs.fill === 'rgb(230,0,230)') !== rx.test(g.attrs['data-name'])))
	die('search highlighted the wrong frames');
const iv = hits.map((g) => [+g.attrs['data-x'], +g.attrs['data-x'] + +g.attrs['data-count']])
	.sort((a, b) => a[0] - b[0]);
let m = 0, end = -1;
for (const [a0, a1] of iv) {
	const s = Math.max(a0, end);
	if (a1 > s) { m += a1 - s; end = a1; }
}
const want = 'Matched: ' + ((100 * m) / total).toFixed(2) + '%';
if (byId.matched.textContent !== want)
	die(`matched shows '${byId.matched.textContent}', want '${want}'`);
// A bad expression is reported, not thrown.
promptAnswer = '(';
let alerted = false;
global.alert = () => { alerted = true; };
byId.search.fire('click');
if (!alerted)
	die('a bad regular expression was not reported');
console.log(`zoom: ${shown} shown, ${hidden} hidden; search: ${hits.length} frames, ${want}`);
