<?php

// A job worker written for the Mosquitto-PHP extension (Mosquitto\Client),
// unchanged, running on this extension: it registers, sends heartbeats, takes
// jobs from priority topics and reports each one done.
//
//   mosquitto_pub -q 1 -t jobs/queue/high/email -m '{"id":"j-1"}'
//
//   MQTT_HOST=127.0.0.1 MQTT_PORT=1883 WORKER_ID=w1 php -d extension=target/release/libmqtt_broadcast.so examples/mosquitto-compat.php
//
// - workers/<WORKER_ID> says "online" (retained) once connected, and the will
//   says "offline" when the worker dies without disconnecting;
// - workers/<WORKER_ID>/heartbeat gets the time every HEARTBEAT_SECONDS;
// - jobs come from jobs/queue/{high,normal,low}/+ at QoS 1: with a fixed
//   client id and a persistent session the broker keeps them while the worker
//   is away, and a job is acknowledged only after onMessage returned;
// - jobs/done/<job id> says which worker did it.
//
// Unlike with Mosquitto-PHP, the worker survives a broker restart inside
// loopForever() (onConnect runs again), and what it published just before
// it stops still arrives.
//
// It stops after MAX_JOBS jobs (when set), or on SIGTERM.

$host = getenv('MQTT_HOST') ?: '127.0.0.1';
$port = (int) (getenv('MQTT_PORT') ?: 1883);
$workerId = getenv('WORKER_ID') ?: 'worker-' . getmypid();
$heartbeatSeconds = (float) (getenv('HEARTBEAT_SECONDS') ?: 5);
$maxJobs = (int) (getenv('MAX_JOBS') ?: 0);

$client = new Mosquitto\Client($workerId, false);
$client->setWill("workers/$workerId", 'offline', 1, true);
$client->setReconnectDelay(1, 30, true);

$client->onConnect(function (int $rc, string $message) use ($client, $workerId) {
    if ($rc !== 0) {
        fwrite(STDERR, "broker refused the connection: $message\n");
        return;
    }
    // Called again after every reconnect: register and subscribe again.
    $client->publish("workers/$workerId", 'online', 1, true);
    foreach (['high', 'normal', 'low'] as $priority) {
        $client->subscribe("jobs/queue/$priority/+", 1);
    }
    echo "$workerId online\n";
});

$done = 0;
$client->onMessage(function (Mosquitto\Message $job) use ($client, $workerId, &$done) {
    $levels = Mosquitto\Message::tokeniseTopic($job->topic);   // jobs, queue, priority, type
    $data = json_decode($job->payload, true);
    $id = is_array($data) && isset($data['id']) ? (string) $data['id'] : "mid-{$job->mid}";
    // ... the job's work goes here ...
    $client->publish("jobs/done/$id", json_encode(['worker' => $workerId, 'priority' => $levels[2], 'type' => $levels[3]]), 1);
    echo "done $id ({$levels[2]} {$levels[3]})\n";
    $done++;
});

$client->onDisconnect(function (int $rc) {
    if ($rc !== 0) {
        echo "connection lost, reconnecting\n";
    }
});

$stop = false;
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function () use (&$stop) {
    $stop = true;
});

$client->connect($host, $port, 30);
$nextHeartbeat = 0.0;
while (!$stop && ($maxJobs === 0 || $done < $maxJobs)) {
    if (microtime(true) >= $nextHeartbeat) {
        $client->publish("workers/$workerId/heartbeat", (string) time(), 0);
        $nextHeartbeat = microtime(true) + $heartbeatSeconds;
    }
    $client->loop(200);
}

$client->publish("workers/$workerId", 'offline', 1, true);
$client->disconnect();
echo "$workerId stopped after $done jobs\n";
