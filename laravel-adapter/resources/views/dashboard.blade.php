<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>MQTT Broadcast</title>
<style>
    :root { --fg: #1f2933; --muted: #6b7785; --line: #e3e7ec; --bg: #f5f7fa; --card: #fff; --ok: #1f9d55; --warn: #d97706; --bad: #dc2626; --received: #3b6fd8; --published: #9b5de5; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
    header { display: flex; align-items: baseline; gap: 1rem; padding: .9rem 1.5rem; background: var(--card); border-bottom: 1px solid var(--line); }
    header h1 { font-size: 1.15rem; margin: 0; }
    header .muted { margin-left: auto; }
    main { padding: 1rem 1.5rem 2rem; max-width: 1400px; }
    section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
    h2 { font-size: .95rem; margin: 0 0 .6rem; }
    h2 small { font-weight: normal; color: var(--muted); }
    .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: .8rem; margin-bottom: 1rem; }
    .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
    .card .value { font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
    .card .label, .muted { color: var(--muted); font-size: .85rem; }
    table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { color: var(--muted); font-weight: 500; font-size: .8rem; }
    td.num, th.num { text-align: right; }
    td.error { color: var(--bad); max-width: 28rem; word-break: break-word; }
    .state { display: inline-block; padding: 0 .45rem; border-radius: 9px; font-size: .8rem; background: var(--line); }
    .state.good { background: #dcf5e5; color: var(--ok); }
    .state.warn { background: #fdf0d5; color: var(--warn); }
    .state.bad { background: #fde2e2; color: var(--bad); }
    .meter { display: inline-block; width: 70px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; margin-right: .4rem; vertical-align: middle; }
    .meter span { display: block; height: 100%; background: var(--ok); }
    .meter span.warn { background: var(--warn); }
    .meter span.bad { background: var(--bad); }
    .chart svg { width: 100%; height: 140px; display: block; }
    .legend span { margin-right: 1rem; }
    .legend i { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
    .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
    .columns section { margin-bottom: 0; }
    button { font: inherit; font-size: .8rem; padding: .15rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: var(--card); cursor: pointer; }
    button:hover { border-color: var(--received); }
    button:disabled { opacity: .5; cursor: default; }
    #notice:empty { display: none; }
    #notice { padding: .5rem .8rem; border-radius: 6px; margin-bottom: 1rem; background: #fdf0d5; }
    code { font-size: .85em; }
</style>
</head>
<body>
<header>
    <h1>MQTT Broadcast</h1>
    <span class="muted">environment <strong>{{ $stats['environment'] }}</strong></span>
    <span class="muted" id="updated" data-refreshes="0">updated {{ date('H:i:s', (int) $stats['now']) }}</span>
</header>
<main>
    <noscript><p>The figures below are those of {{ date('H:i:s', (int) $stats['now']) }}; with JavaScript the page renders them and refreshes them every {{ $refreshSeconds }} seconds.</p></noscript>
    <div id="notice" role="status"></div>
    <div class="cards" id="cards"></div>
    <section class="chart">
        <h2>Throughput <small>messages per minute, last hour (received and published by the daemons)</small></h2>
        <div id="chart"></div>
        <div class="legend muted"><span><i style="background: var(--received)"></i>received</span><span><i style="background: var(--published)"></i>published</span></div>
    </section>
    <section>
        <h2>Daemons <small>php artisan mqtt-broadcast, from their heartbeats</small></h2>
        <div id="daemons"></div>
    </section>
    <section>
        <h2>Connections of the daemons</h2>
        <div id="daemon-connections"></div>
    </section>
    <section>
        <h2>Connections of this pool <small>every process of this PHP-FPM pool, from the extension's shared counters</small></h2>
        <div id="pool"></div>
    </section>
    <div class="columns">
        <section>
            <h2>Received per route <small>routes/mqtt.php</small></h2>
            <div id="routes"></div>
        </section>
        <section>
            <h2>Received per topic filter <small>the connections' topics</small></h2>
            <div id="topics"></div>
        </section>
    </div>
    <section style="margin-top: 1rem">
        <h2>Failed publishes <small>the failed-publish store; retry publishes again as mqtt-broadcast:retry does</small></h2>
        <div id="failed"></div>
    </section>
    <section>
        <h2>Latest messages <small>the message log (logs.enable), newest first</small></h2>
        <div id="messages"></div>
    </section>
    <section id="queues-section" hidden>
        <h2>mqtt queue connections <small>the workers' last announced states</small></h2>
        <div id="queues"></div>
    </section>
</main>
<script id="mqtt-broadcast-stats" type="application/json">{!! json_encode($stats, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_INVALID_UTF8_SUBSTITUTE) !!}</script>
<script id="mqtt-broadcast-config" type="application/json">{!! json_encode(['statsUrl' => $statsUrl, 'retryUrl' => $retryUrl, 'csrfToken' => $csrfToken, 'refreshSeconds' => $refreshSeconds], JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT) !!}</script>
<script>
(function () {
    'use strict';
    var config = JSON.parse(document.getElementById('mqtt-broadcast-config').textContent);
    var refreshes = 0;

    function esc(value) {
        return String(value === null || value === undefined ? '' : value).replace(/[&<>"']/g, function (c) {
            return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
        });
    }
    function num(value) {
        return value === null || value === undefined ? '–' : Number(value).toLocaleString('en');
    }
    function duration(seconds) {
        seconds = Math.max(0, Math.floor(seconds));
        if (seconds < 120) return seconds + ' s';
        if (seconds < 7200) return Math.floor(seconds / 60) + ' min';
        if (seconds < 172800) return Math.floor(seconds / 3600) + ' h ' + Math.floor(seconds % 3600 / 60) + ' min';
        return Math.floor(seconds / 86400) + ' d';
    }
    function state(value) {
        var kind = {connected: 'good', running: 'good', online: 'good', connecting: 'warn', reconnecting: 'warn', paused: 'warn'}[value] || 'bad';
        return '<span class="state ' + kind + '">' + esc(value) + '</span>';
    }
    function table(headers, rows, empty) {
        if (rows.length === 0) return '<p class="muted">' + esc(empty) + '</p>';
        return '<table><thead><tr>' + headers.map(function (h) {
            return '<th' + (h.charAt(0) === '#' ? ' class="num">' + esc(h.slice(1)) : '>' + esc(h)) + '</th>';
        }).join('') + '</tr></thead><tbody>' + rows.map(function (cells) {
            return '<tr>' + cells.map(function (cell, i) {
                var cls = headers[i].charAt(0) === '#' ? ' class="num"' : (headers[i] === 'Last error' || headers[i] === 'Exception' ? ' class="error"' : '');
                return '<td' + cls + '>' + cell + '</td>';
            }).join('') + '</tr>';
        }).join('') + '</tbody></table>';
    }
    function card(id, label, value) {
        return '<div class="card"><div class="value" id="' + id + '">' + value + '</div><div class="label">' + esc(label) + '</div></div>';
    }
    function memory(daemon) {
        if (!daemon.memory_threshold_mb) return esc(daemon.memory_mb) + ' MB';
        var share = daemon.memory_mb / daemon.memory_threshold_mb;
        var kind = share >= 1 ? 'bad' : (share >= 0.8 ? 'warn' : '');
        return '<span class="meter"><span class="' + kind + '" style="width: ' + Math.min(100, share * 100).toFixed(0) + '%"></span></span>'
            + esc(daemon.memory_mb) + ' / ' + esc(daemon.memory_threshold_mb) + ' MB';
    }
    function since(now, time) {
        return time ? esc(new Date(time * 1000).toLocaleTimeString('en-GB')) + ' <span class="muted">(' + duration(now - time) + ')</span>' : '–';
    }

    function chart(minutes) {
        var width = 600, height = 140, bar = width / minutes.length;
        var most = Math.max(1, Math.max.apply(null, minutes.map(function (m) { return m.received + m.published; })));
        var bars = minutes.map(function (m, i) {
            var r = m.received / most * height, p = m.published / most * height;
            var title = '<title>' + esc(new Date(m.at * 1000).toLocaleTimeString('en-GB', {hour: '2-digit', minute: '2-digit'})) + ': ' + m.received + ' received, ' + m.published + ' published</title>';
            return '<g>' + title
                + '<rect x="' + (i * bar + 1) + '" y="' + (height - r) + '" width="' + (bar - 2) + '" height="' + r + '" fill="var(--received)"></rect>'
                + '<rect x="' + (i * bar + 1) + '" y="' + (height - r - p) + '" width="' + (bar - 2) + '" height="' + p + '" fill="var(--published)"></rect></g>';
        }).join('');
        return '<div class="muted">' + num(most) + ' / min</div>'
            + '<svg viewBox="0 0 ' + width + ' ' + height + '" preserveAspectRatio="none" role="img" aria-label="messages per minute">' + bars + '</svg>'
            + '<div class="muted" style="display: flex; justify-content: space-between"><span>60 min ago</span><span>now</span></div>';
    }

    function render(stats) {
        var now = stats.now;
        var connected = 0, connections = 0;
        stats.daemons.forEach(function (d) {
            Object.keys(d.connections).forEach(function (name) {
                connections++;
                if (d.connections[name].state === 'connected') connected++;
            });
        });
        document.getElementById('cards').innerHTML = [
            card('daemons-running', 'daemons running', num(stats.daemons.length)),
            card('connections-connected', 'daemon connections connected', num(connected) + ' / ' + num(connections)),
            card('throughput-received-hour', 'received, last hour', num(stats.throughput.received_last_hour)),
            card('throughput-received-minute', 'received, this minute', num(stats.throughput.received_this_minute)),
            card('throughput-published-hour', 'published by the daemons, last hour', num(stats.throughput.published_last_hour)),
            card('outbox-queued', 'queued (not yet written)', num(stats.outbox.queued)),
            card('outbox-in-flight', 'in flight (not yet acknowledged)', num(stats.outbox.in_flight)),
            card('failed-total', 'failed publishes', num(stats.failed.total))
        ].join('');
        document.getElementById('chart').innerHTML = chart(stats.throughput.minutes);

        document.getElementById('daemons').innerHTML = table(
            ['Daemon', 'Host', '#PID', 'State', 'Up', 'Heartbeat', '#Messages', '#Listener errors', 'Memory'],
            stats.daemons.map(function (d) {
                return [esc(d.name), esc(d.host), esc(d.pid), state(d.status), duration(d.uptime_seconds), esc(d.heartbeat_seconds_ago) + ' s ago', num(d.handled), num(d.listener_errors), memory(d)];
            }),
            'No daemon sent a heartbeat in the last 15 seconds: start one with php artisan mqtt-broadcast.'
        );

        var rows = [];
        stats.daemons.forEach(function (d) {
            Object.keys(d.connections).forEach(function (name) {
                var c = d.connections[name];
                rows.push([esc(d.name), esc(name), state(c.state), since(now, c.connected_since), esc(c.address), num(c.received), num(c.published), num(c.queued), num(c.in_flight), num(c.reconnects), esc(c.last_error)]);
            });
        });
        document.getElementById('daemon-connections').innerHTML = table(
            ['Daemon', 'Connection', 'State', 'Connected since', 'Broker', '#Received', '#Published', '#Queued', '#In flight', '#Reconnects', 'Last error'],
            rows,
            'No daemon is running.'
        );

        if (stats.pool === null) {
            document.getElementById('pool').innerHTML = '<p class="muted">The mqtt_broadcast extension is not loaded in this PHP.</p>';
        } else {
            document.getElementById('pool').innerHTML = '<p class="muted">' + num(stats.pool.workers_alive) + ' process(es) alive with a connection.</p>' + table(
                ['Connection', '#Processes connected', '#Published', '#Acknowledged', '#Refused', '#Received', '#Reconnects', '#Queued (most of one)', '#In flight (most of one)'],
                Object.keys(stats.pool.connections).map(function (name) {
                    var c = stats.pool.connections[name];
                    return [esc(name), num(c.connections_up), num(c.published), num(c.acknowledged), num(c.refused), num(c.received), num(c.reconnects),
                        num(c.queued_messages) + ' (' + num(c.queued_messages_max) + ')', num(c.in_flight_messages) + ' (' + num(c.in_flight_messages_max) + ')'];
                }),
                'No process of this pool has published yet.'
            );
        }

        document.getElementById('routes').innerHTML = table(
            ['Route', 'Connection', '#Received', '#Rejected'],
            stats.received.routes.map(function (r) {
                return [(r.fallback ? '<span class="muted">fallback</span> ' : '') + '<code>' + esc(r.pattern) + '</code>', esc(r.connection || '*'), num(r.received), num(r.rejected)];
            }),
            'routes/mqtt.php declares no route.'
        );
        document.getElementById('topics').innerHTML = table(
            ['Topic filter', 'Connection', '#Received'],
            stats.received.topics.map(function (t) { return ['<code>' + esc(t.filter) + '</code>', esc(t.connection), num(t.received)]; }),
            'No daemon is running.'
        );

        document.getElementById('failed').innerHTML = (stats.failed.error ? '<p class="error">' + esc(stats.failed.error) + '</p>' : '') + table(
            ['ID', 'Connection', 'Topic', '#QoS', 'Failed at', '#Retries', 'Exception', ''],
            stats.failed.jobs.map(function (j) {
                return ['<code>' + esc(j.id) + '</code>', esc(j.connection), esc(j.topic), esc(j.qos), esc(j.failed_at ? new Date(j.failed_at).toLocaleString('en-GB') : ''), num(j.retries), esc(j.exception),
                    config.csrfToken ? '<button type="button" data-retry="' + esc(j.id) + '">Retry</button>' : '<span class="muted">no session</span>'];
            }),
            stats.failed.error ? '' : 'No failed publishes.'
        ) + (stats.failed.total > stats.failed.jobs.length ? '<p class="muted">The latest ' + stats.failed.jobs.length + ' of ' + num(stats.failed.total) + '; php artisan mqtt-broadcast:failed lists them all.</p>' : '');

        document.getElementById('messages').innerHTML = !stats.messages.enabled
            ? '<p class="muted">The message log is off: set mqtt-broadcast.logs.enable (MQTT_LOG_ENABLE=true) to keep received and published messages.</p>'
            : (stats.messages.error ? '<p class="error">' + esc(stats.messages.error) + '</p>' : '') + table(
                ['At', 'Connection', 'Topic', 'Message'],
                stats.messages.latest.map(function (m) {
                    return [esc(m.at ? new Date(m.at).toLocaleTimeString('en-GB') : ''), esc(m.connection), '<code>' + esc(m.topic) + '</code>', '<code>' + esc(m.message) + '</code>'];
                }),
                stats.messages.error ? '' : 'No message logged yet.'
            );

        document.getElementById('queues-section').hidden = stats.queues.length === 0;
        document.getElementById('queues').innerHTML = stats.queues.map(function (q) {
            return '<h2><code>' + esc(q.name) + '</code> <small>connection ' + esc(q.connection) + ', group ' + esc(q.group)
                + (q.failed_jobs === null ? '' : ', ' + num(q.failed_jobs) + ' failed job(s)') + '</small></h2>'
                + (q.error ? '<p class="error">' + esc(q.error) + '</p>' : table(
                    ['Queue', 'Worker', 'State', 'Host', '#PID', 'Said at'],
                    q.workers.map(function (w) {
                        return [esc(w.queue), '<code>' + esc(w.consumer) + '</code>', state(w.state) + (w.reason ? ' <span class="muted">' + esc(w.reason) + '</span>' : ''), esc(w.host), esc(w.pid), since(now, w.at)];
                    }),
                    'No worker has served this connection yet.'
                ));
        }).join('');
    }

    function notice(text) {
        document.getElementById('notice').textContent = text;
    }

    function refresh() {
        fetch(config.statsUrl, {headers: {Accept: 'application/json'}, credentials: 'same-origin'})
            .then(function (response) {
                if (!response.ok) throw new Error('HTTP ' + response.status);
                return response.json();
            })
            .then(function (stats) {
                render(stats);
                refreshes++;
                var updated = document.getElementById('updated');
                updated.dataset.refreshes = String(refreshes);
                updated.textContent = 'updated ' + new Date(stats.now * 1000).toLocaleTimeString('en-GB');
                if (document.getElementById('notice').dataset.kind === 'refresh') notice('');
            })
            .catch(function (error) {
                notice('Refreshing failed (' + error.message + '); trying again.');
                document.getElementById('notice').dataset.kind = 'refresh';
            })
            .then(function () { setTimeout(refresh, config.refreshSeconds * 1000); });
    }

    document.addEventListener('click', function (event) {
        var button = event.target.closest('button[data-retry]');
        if (!button) return;
        button.disabled = true;
        fetch(config.retryUrl.replace('__ID__', encodeURIComponent(button.dataset.retry)), {
            method: 'POST',
            headers: {Accept: 'application/json', 'X-CSRF-TOKEN': config.csrfToken},
            credentials: 'same-origin'
        }).then(function (response) {
            return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        }).then(function (result) {
            notice(result.body.message || (result.ok ? 'Published again.' : 'Retrying failed.'));
            document.getElementById('notice').dataset.kind = 'retry';
            return fetch(config.statsUrl, {headers: {Accept: 'application/json'}, credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(render);
        }).catch(function (error) {
            notice('Retrying failed: ' + error.message);
            button.disabled = false;
        });
    });

    render(JSON.parse(document.getElementById('mqtt-broadcast-stats').textContent));
    setTimeout(refresh, config.refreshSeconds * 1000);
})();
</script>
</body>
</html>
