// SPDX-License-Identifier: MIT
/* Flame graphs as self-contained interactive SVG; see flamegraph.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"

struct fnode {
	char *name;
	uint64_t count; /* samples in this frame and everything above it */
	struct fnode **kids;
	size_t nkids, cap;
};

struct ai_flame {
	struct fnode root; /* unnamed; its kids are the bottom frames */
};

#define SVG_WIDTH 1200
#define SVG_PAD	  10
#define FRAME_H	  16
#define FONT_SIZE 12
#define FONT_W	  0.59 /* average glyph width as a fraction of the font size */
#define HEADER_H  40
#define FOOTER_H  30

int ai_flame_new(struct ai_flame **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void node_free(struct fnode *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		node_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->name);
}

void ai_flame_free(struct ai_flame *f)
{
	if (!f)
		return;
	node_free(&f->root);
	free(f);
}

uint64_t ai_flame_total(const struct ai_flame *f)
{
	return f->root.count;
}

static struct fnode *child(struct fnode *n, const char *name, size_t len)
{
	struct fnode *c;

	for (size_t i = 0; i < n->nkids; i++) {
		if (!strncmp(n->kids[i]->name, name, len) && !n->kids[i]->name[len])
			return n->kids[i];
	}
	if (n->nkids == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct fnode **k = realloc(n->kids, cap * sizeof(*k));

		if (!k)
			return NULL;
		n->kids = k;
		n->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->name = strndup(name, len);
	if (!c->name) {
		free(c);
		return NULL;
	}
	n->kids[n->nkids++] = c;
	return c;
}

int ai_flame_add(struct ai_flame *f, const char *const *frames, size_t n, uint64_t count)
{
	struct fnode *node = &f->root;

	if (!n)
		return -EINVAL;
	/* Create the path first, so that running out of memory changes no count. */
	for (size_t i = 0; i < n; i++) {
		node = child(node, frames[i], strlen(frames[i]));
		if (!node)
			return -ENOMEM;
	}
	node = &f->root;
	node->count += count;
	for (size_t i = 0; i < n; i++) {
		node = child(node, frames[i], strlen(frames[i]));
		node->count += count;
	}
	return 0;
}

int ai_flame_add_folded(struct ai_flame *f, const char *line)
{
	const char *sp, *p, *end;
	struct fnode *node = &f->root;
	unsigned long long count;
	char *cend;

	end = line + strlen(line);
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	sp = end;
	while (sp > line && sp[-1] != ' ')
		sp--;
	if (sp == line || sp == end || sp[0] < '0' || sp[0] > '9')
		return -EINVAL;
	errno = 0;
	count = strtoull(sp, &cend, 10);
	if (errno || cend != end)
		return -EINVAL;
	end = sp - 1; /* the space */
	if (end == line)
		return -EINVAL;
	/* Check every frame first so a bad line changes nothing. */
	for (p = line; p <= end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));

		if (!semi)
			semi = end;
		if (semi == p)
			return -EINVAL;
		p = semi + 1;
	}
	f->root.count += count;
	for (p = line; p <= end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));

		if (!semi)
			semi = end;
		node = child(node, p, (size_t)(semi - p));
		if (!node)
			return -ENOMEM;
		node->count += count;
		p = semi + 1;
	}
	return 0;
}

/* ---- SVG ---------------------------------------------------------------------------- */

static void xml_escape(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			fputc(c < 0x20 ? '?' : c, out);
		}
	}
}

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Labels in brackets are grey, async frames (await points, "@") blue-green, code warm. */
static void frame_color(const char *name, char *buf, size_t len)
{
	unsigned h = name_hash(name);
	unsigned v1 = h % 55, v2 = (h >> 8) % 55, v3 = (h >> 16) % 55;

	if (name[0] == '[')
		snprintf(buf, len, "rgb(%u,%u,%u)", 170 + v1 / 2, 170 + v1 / 2, 180 + v1 / 2);
	else if (strchr(name, '@'))
		snprintf(buf, len, "rgb(%u,%u,%u)", 80 + v1, 170 + v2, 200 + v3 / 2);
	else
		snprintf(buf, len, "rgb(%u,%u,%u)", 200 + v1, 80 + v2 * 2, 40 + v3);
}

static size_t max_depth(const struct fnode *n)
{
	size_t d = 0;

	for (size_t i = 0; i < n->nkids; i++) {
		size_t k = 1 + max_depth(n->kids[i]);

		if (k > d)
			d = k;
	}
	return d;
}

struct svg_ctx {
	FILE *out;
	uint64_t total;
	double scale; /* pixels per sample */
	int height;
};

static void write_frame(struct svg_ctx *c, const struct fnode *n, unsigned depth, uint64_t x)
{
	double px = SVG_PAD + (double)x * c->scale, w = (double)n->count * c->scale;
	double y = c->height - FOOTER_H - (depth + 1) * FRAME_H;
	size_t fit = (size_t)(w / (FONT_SIZE * FONT_W));
	char color[32];
	uint64_t off = x;

	frame_color(n->name, color, sizeof(color));
	fprintf(c->out, "<g class=\"f\" data-name=\"");
	xml_escape(c->out, n->name, SIZE_MAX);
	fprintf(c->out, "\" data-depth=\"%u\" data-x=\"%llu\" data-count=\"%llu\"><title>", depth,
		(unsigned long long)x, (unsigned long long)n->count);
	xml_escape(c->out, n->name, SIZE_MAX);
	fprintf(c->out, " (%llu samples, %.2f%%)</title>", (unsigned long long)n->count,
		100.0 * (double)n->count / (double)c->total);
	fprintf(c->out,
		"<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
		px, y, w, FRAME_H - 1, color);
	fprintf(c->out, "<text x=\"%.2f\" y=\"%.1f\">", px + 3, y + FRAME_H - 4.5);
	if (fit >= 3) {
		size_t len = strlen(n->name);

		if (len <= fit) {
			xml_escape(c->out, n->name, len);
		} else {
			xml_escape(c->out, n->name, fit - 2);
			fputs("..", c->out);
		}
	}
	fputs("</text></g>\n", c->out);
	for (size_t i = 0; i < n->nkids; i++) {
		write_frame(c, n->kids[i], depth + 1, off);
		off += n->kids[i]->count;
	}
}

/* Click a frame to zoom, Search highlights a regular expression, Reset zoom restores. */
static const char svg_script[] =
    "var W=SVGW,PAD=SVGPAD,FW=FONTW,frames=[],zoomed=null,searchRe=null;\n"
    "function A(g,n){return g.getAttribute(n);}\n"
    "function init(){var gs=document.querySelectorAll('g.f');for(var i=0;i<gs.length;i++){\n"
    " var g=gs[i];g.fx=+A(g,'data-x');g.fc=+A(g,'data-count');g.fd=+A(g,'data-depth');\n"
    " g.fn=A(g,'data-name');g.r=g.querySelector('rect');g.t=g.querySelector('text');\n"
    " g.fill=A(g.r,'fill');frames.push(g);\n"
    " g.addEventListener('click',function(e){zoom(this);e.stopPropagation();});\n"
    " g.addEventListener('mouseover',function(){\n"
    "  detail(this.querySelector('title').textContent);});\n"
    " g.addEventListener('mouseout',function(){detail(' ');});}\n"
    " document.getElementById('reset').addEventListener('click',function(){zoom(null);});\n"
    " document.getElementById('search').addEventListener('click',search);}\n"
    "function detail(s){document.getElementById('details').textContent=s;}\n"
    "function label(g,w){var n=Math.floor(w/FW);if(n<3)return '';\n"
    " return g.fn.length<=n?g.fn:g.fn.substring(0,n-2)+'..';}\n"
    "function zoom(z){zoomed=z;var x0=0,c0=TOTAL,d0=0;if(z){x0=z.fx;c0=z.fc;d0=z.fd;}\n"
    " var s=(W-2*PAD)/c0;document.getElementById('reset').style.opacity=z?1:0.4;\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i],x,w;\n"
    "  if(g.fx>=x0&&g.fx+g.fc<=x0+c0&&g.fd>=d0){x=PAD+(g.fx-x0)*s;w=g.fc*s;\n"
    "   g.style.display='';g.style.opacity=1;}\n"
    "  else if(g.fd<d0&&g.fx<=x0&&g.fx+g.fc>=x0+c0){x=PAD;w=W-2*PAD;g.style.display='';\n"
    "   g.style.opacity=0.5;}\n"
    "  else{g.style.display='none';continue;}\n"
    "  g.r.setAttribute('x',x.toFixed(2));g.r.setAttribute('width',w.toFixed(2));\n"
    "  g.t.setAttribute('x',(x+3).toFixed(2));g.t.textContent=label(g,w);}}\n"
    "function search(){var q=prompt('Search frames (regular expression)',searchRe?\n"
    " searchRe.source:'');if(q===null)return;var iv=[],m=0;\n"
    " try{searchRe=q?new RegExp(q):null;}catch(e){alert('bad expression: '+e.message);return;}\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i],hit=searchRe&&searchRe.test(g.fn);\n"
    "  g.r.setAttribute('fill',hit?'rgb(230,0,230)':g.fill);if(hit)iv.push([g.fx,g.fx+g.fc]);}\n"
    " iv.sort(function(a,b){return a[0]-b[0];});var end=-1;\n"
    " for(var j=0;j<iv.length;j++){var a=Math.max(iv[j][0],end);if(iv[j][1]>a){m+=iv[j][1]-a;\n"
    "  end=iv[j][1];}}\n"
    " document.getElementById('matched').textContent=searchRe?'Matched: '+\n"
    "  (100*m/TOTAL).toFixed(2)+'%':'';}\n"
    "init();\n";

int ai_flame_write_svg(const struct ai_flame *f, FILE *out, const char *title)
{
	struct svg_ctx c = { .out = out, .total = f->root.count };
	size_t depth = max_depth(&f->root);
	uint64_t off = 0;
	const char *p;

	c.height = HEADER_H + FOOTER_H + (int)(depth ? depth : 1) * FRAME_H;
	c.scale = c.total ? (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)c.total : 0;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" data-total=\"%llu\">\n",
		SVG_WIDTH, c.height, SVG_WIDTH, c.height, (unsigned long long)c.total);
	fprintf(out,
		"<style>text{font-family:monospace;font-size:%dpx;fill:#000}"
		"g.f{cursor:pointer}g.f:hover rect{stroke:#000;stroke-width:0.5}"
		".btn{cursor:pointer;fill:#333}#title{font-size:16px;text-anchor:middle}"
		"</style>\n",
		FONT_SIZE);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f0\"/>\n",
		SVG_WIDTH, c.height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">", SVG_WIDTH / 2);
	xml_escape(out, title ? title : "Flame graph", SIZE_MAX);
	fprintf(out,
		"</text>\n<text id=\"reset\" class=\"btn\" x=\"%d\" y=\"22\" "
		"style=\"opacity:0.4\">Reset zoom</text>\n",
		SVG_PAD);
	fprintf(out, "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"22\">Search</text>\n",
		SVG_WIDTH - SVG_PAD - 60);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\"></text>\n", SVG_WIDTH - SVG_PAD - 160,
		c.height - 10);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", SVG_PAD, c.height - 10);
	if (!c.total)
		fprintf(out, "<text x=\"%d\" y=\"%d\">no samples</text>\n", SVG_PAD, HEADER_H + 12);
	fputs("<g id=\"frames\">\n", out);
	for (size_t i = 0; i < f->root.nkids; i++) {
		write_frame(&c, f->root.kids[i], 0, off);
		off += f->root.kids[i]->count;
	}
	fputs("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n", out);
	fprintf(out, "var TOTAL=%llu;\n", (unsigned long long)(c.total ? c.total : 1));
	/* Fill the layout constants into the script. */
	for (p = svg_script; *p; p++) {
		if (!strncmp(p, "SVGW", 4)) {
			fprintf(out, "%d", SVG_WIDTH);
			p += 3;
		} else if (!strncmp(p, "SVGPAD", 6)) {
			fprintf(out, "%d", SVG_PAD);
			p += 5;
		} else if (!strncmp(p, "FONTW", 5)) {
			fprintf(out, "%.3f", FONT_SIZE * FONT_W);
			p += 4;
		} else {
			fputc(*p, out);
		}
	}
	fputs("]]></script>\n</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}
