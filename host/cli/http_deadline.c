/* http_deadline: a request must arrive whole in a bounded time. libmicrohttpd's connection
 * timeout counts idleness only, so a client that sends one byte of its request every few seconds
 * would hold a connection and its thread for ever (and, with enough of them, every connection
 * serve accepts). Here every connection has a clock, started when it opens and again when a
 * request on it has been answered; while a request is still arriving (its headers or its body),
 * a watchdog thread ends the connection once its clock passes the deadline (shutdown() of its
 * socket: the connection's thread sees the end and closes it). A request being handled or
 * answered is never cut. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon.h"

#define WATCH_EVERY_MS 200

struct http_watched {
    http_deadline *owner;
    int fd;
    ino_t inode; /* the socket's: a number reused for another file is never shut down */
    struct timespec since;
    int receiving; /* a request is arriving (not being handled or answered) */
    http_watched *prev, *next;
};

struct http_deadline {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int stopping;
    double seconds;
    http_watched *all;
};

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void *watch(void *arg)
{
    http_deadline *dl = arg;
    pthread_mutex_lock(&dl->lock);
    while (!dl->stopping) {
        for (http_watched *w = dl->all; w; w = w->next) {
            if (!w->receiving || w->fd < 0 || seconds_since(&w->since) <= dl->seconds) continue;
            struct stat st;
            if (fstat(w->fd, &st) == 0 && st.st_ino == w->inode) shutdown(w->fd, SHUT_RDWR);
            w->fd = -1; /* once */
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&dl->wake, &dl->lock, &until);
    }
    pthread_mutex_unlock(&dl->lock);
    return NULL;
}

http_deadline *http_deadline_start(double seconds)
{
    http_deadline *dl = calloc(1, sizeof *dl);
    if (!dl) return NULL;
    dl->seconds = seconds;
    pthread_mutex_init(&dl->lock, NULL);
    pthread_cond_init(&dl->wake, NULL);
    if (pthread_create(&dl->thread, NULL, watch, dl) != 0) {
        pthread_mutex_destroy(&dl->lock);
        pthread_cond_destroy(&dl->wake);
        free(dl);
        return NULL;
    }
    return dl;
}

void http_deadline_stop(http_deadline *dl)
{
    if (!dl) return;
    pthread_mutex_lock(&dl->lock);
    dl->stopping = 1;
    pthread_cond_signal(&dl->wake);
    pthread_mutex_unlock(&dl->lock);
    pthread_join(dl->thread, NULL);
    while (dl->all) {
        http_watched *w = dl->all;
        dl->all = w->next;
        free(w);
    }
    pthread_mutex_destroy(&dl->lock);
    pthread_cond_destroy(&dl->wake);
    free(dl);
}

http_watched *http_deadline_opened(http_deadline *dl, int fd)
{
    http_watched *w = calloc(1, sizeof *w);
    if (!w) return NULL; /* not watched: idleness still ends it */
    struct stat st;
    w->owner = dl;
    w->fd = fstat(fd, &st) == 0 ? fd : -1;
    w->inode = w->fd >= 0 ? st.st_ino : 0;
    w->receiving = 1;
    clock_gettime(CLOCK_MONOTONIC, &w->since);
    pthread_mutex_lock(&dl->lock);
    w->next = dl->all;
    if (dl->all) dl->all->prev = w;
    dl->all = w;
    pthread_mutex_unlock(&dl->lock);
    return w;
}

void http_deadline_closed(http_watched *w)
{
    if (!w) return;
    http_deadline *dl = w->owner;
    pthread_mutex_lock(&dl->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        dl->all = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&dl->lock);
    free(w);
}

void http_deadline_arrived(http_watched *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->owner->lock);
    w->receiving = 0;
    pthread_mutex_unlock(&w->owner->lock);
}

void http_deadline_answered(http_watched *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->owner->lock);
    w->receiving = 1;
    clock_gettime(CLOCK_MONOTONIC, &w->since);
    pthread_mutex_unlock(&w->owner->lock);
}
