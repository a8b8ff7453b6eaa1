/* Headless Chromium for the browser tests (the report's and the
 * dashboard's): finding the binary, running it for --dump-dom or
 * --screenshot with a fresh profile, counting console messages, reading a
 * PNG's size, and the layout probe (a script appended to a copy of a page
 * that measures every <svg> and lists its text). Header-only: static
 * functions. Needs tb_test.h (tb_test_path) and report_fixtures.h
 * (fx_system, fx_slurp). */
#ifndef TB_BROWSER_H
#define TB_BROWSER_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_fixtures.h"
#include "tb_test.h"

/* $TB_CHROMIUM, else chromium / chromium-browser on PATH: 1 found (path in
 * out), 0 not installed. */
static inline int tb_browser_find(char *out, size_t n)
{
    const char *env = getenv("TB_CHROMIUM");
    if (env && !access(env, X_OK)) {
        snprintf(out, n, "%s", env);
        return 1;
    }
    static const char *const names[] = {"chromium", "chromium-browser"};
    const char *path = getenv("PATH");
    for (int k = 0; k < 2 && path; k++) {
        for (const char *p = path; *p;) {
            const char *e = strchr(p, ':');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len) {
                snprintf(out, n, "%.*s/%s", (int)len, p, names[k]);
                if (!access(out, X_OK))
                    return 1;
            }
            if (!e)
                break;
            p = e + 1;
        }
    }
    return 0;
}

/* Runs chromium on url with a fresh profile dir; mode is "--dump-dom" or
 * "--screenshot=FILE --window-size=W,H". stdout -> out, stderr -> log.
 * Returns chromium's exit status. */
static inline int tb_browser_run(const char *bin, const char *mode, const char *url,
                                 const char *out, const char *log)
{
    char prof[512], cmd[8192];
    tb_test_path(prof, sizeof prof, "chromium-profile", "");
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && timeout 120 '%s' --headless --no-sandbox --disable-gpu "
             "--disable-quic --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync --disable-dev-shm-usage "
             "--user-data-dir='%s' --enable-logging=stderr --v=0 %s '%s' > '%s' 2> '%s'; "
             "rc=$?; rm -rf '%s'; exit $rc",
             prof, bin, prof, mode, url, out, log, prof);
    return fx_system(cmd);
}

/* Console messages (and page errors) chromium logged: ":CONSOLE" lines in
 * its --enable-logging=stderr log; the first one into first. */
static inline size_t tb_browser_console_lines(const char *log, char *first, size_t n)
{
    size_t count = 0;
    first[0] = 0;
    for (const char *p = log; p && (p = strstr(p, ":CONSOLE")); p++) {
        if (!count) {
            const char *e = strchr(p, '\n');
            snprintf(first, n, "%.*s", (int)(e ? e - p : (ptrdiff_t)strlen(p)), p);
        }
        count++;
    }
    return count;
}

static inline long tb_browser_file_size(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* PNG signature + IHDR width/height (big-endian at offsets 16 and 20). */
static inline int tb_browser_png_size(const char *p, unsigned *w, unsigned *h)
{
    unsigned char b[24];
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n != sizeof b || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4))
        return -1;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 0;
}

/* The layout probe: measures every <svg> (getBoundingClientRect,
 * getComputedStyle, drawn elements) and writes the verdicts into
 * <pre id="tb-probe">: "TB-PROBE charts=N visible=M height=H", then one
 * line per svg ("svg I WxH at y=Y elements=E VISIBLE|HIDDEN"), then, per
 * svg, "text I: " and every <text> element's content as drawn, each
 * followed by a '|' (the chart's labels, tic marks and key). */
static inline const char *tb_browser_probe(void)
{
    return "<script>(function(){var s=document.querySelectorAll('svg'),ok=0,o=[],t=[];"
           "for(var i=0;i<s.length;i++){var r=s[i].getBoundingClientRect(),"
           "c=getComputedStyle(s[i]),d=s[i].querySelectorAll('path,line,polyline,rect,circle,use,"
           "text').length,v=r.width>=300&&r.height>=150&&c.display!='none'&&"
           "c.visibility=='visible'&&c.opacity>0.9&&r.left>=0&&r.right<=document.documentElement."
           "scrollWidth+1&&d>=20;if(v)ok++;o.push('svg '+i+' '+Math.round(r.width)+'x'+"
           "Math.round(r.height)+' at y='+Math.round(r.top+scrollY)+' elements='+d+' '+"
           "(v?'VISIBLE':'HIDDEN'));var x=s[i].querySelectorAll('text'),l='text '+i+': ';"
           "for(var j=0;j<x.length;j++)l+=x[j].textContent.replace(/[|\\n]/g,' ')+'|';"
           "t.push(l);}var p=document.createElement('pre');p.id='tb-probe';"
           "p.textContent='TB-PROBE charts='+s.length+' visible='+ok+' height='+"
           "document.documentElement.scrollHeight+'\\n'+o.join('\\n')+'\\n'+t.join('\\n')+"
           "'\\nTB-PROBE-END';document.body.appendChild(p);})();</script>";
}

/* Writes a copy of the page at in_path to out_path with the probe script
 * before </body>; 0, or -1 when either file cannot be used. */
static inline int tb_browser_probe_copy(const char *in_path, const char *out_path)
{
    char *html = fx_slurp(in_path);
    char *end = html ? strstr(html, "</body>") : NULL;
    FILE *p = end ? fopen(out_path, "w") : NULL;
    if (p) {
        fwrite(html, 1, (size_t)(end - html), p);
        fputs(tb_browser_probe(), p);
        fputs(end, p);
        fclose(p);
    }
    free(html);
    return p ? 0 : -1;
}

#endif
