<?php

// A job worker on MQTT without Laravel. Jobs are JSON messages published at
// QoS 1 to jobs/queue/{high|normal|low}/{type}, e.g.
//
//   mosquitto_pub -q 1 -t jobs/queue/high/resize -m '{"id":"j-1","data":{"seconds":0.5}}'
//
// Any number of workers share them through $share/workers/... subscriptions,
// each job going to one worker. Each worker:
//
// - keeps a persistent session per priority (client id "<WORKER_ID>-<priority>"),
//   so the broker keeps its jobs while it is away (a restart, a deploy);
// - always looks at high first, then normal, then low;
// - acknowledges a job only after it ran: a worker killed in the middle of a
//   job gets it again from the broker when it comes back with the same WORKER_ID;
// - publishes jobs/status/<id> (completed, retry, failed) for every job;
// - registers and sends a heartbeat on workers/<WORKER_ID>/status (retained),
//   and leaves a last will there that the broker publishes when the worker dies
//   without saying goodbye.
//
//   MQTT_HOST=127.0.0.1 MQTT_PORT=1883 WORKER_ID=worker-1 php -d extension=target/release/libmqtt_broadcast.so examples/job-worker.php
//
// Mosquitto keeps the jobs of a worker that is away for that worker (not for
// the others), and drops what is over max_queued_messages (1000 by default):
// see "Job queues over MQTT" in the README.

const PRIORITIES = ['high', 'normal', 'low'];
const MAX_ATTEMPTS = 3;

$heartbeatSeconds = (float) (getenv('HEARTBEAT_SECONDS') ?: 5.0);
$workerId = getenv('WORKER_ID') ?: gethostname();
$server = ['host' => getenv('MQTT_HOST') ?: '127.0.0.1', 'port' => getenv('MQTT_PORT') ?: 1883, 'qos' => 1];
$statusTopic = "workers/$workerId/status";
$state = fn (string $state, ?string $reason = null): string => json_encode(['worker' => $workerId, 'state' => $state, 'reason' => $reason, 'pid' => getmypid(), 'at' => microtime(true)]);

// Registration, heartbeat and the last will go through a connection of their own.
$control = new Mqtt\Client($server + [
    'will' => ['topic' => $statusTopic, 'payload' => $state('offline', 'connection lost'), 'qos' => 1, 'retain' => true],
], 'control');

$queues = [];
$clients = [];
foreach (PRIORITIES as $priority) {
    // One session per priority: each has its own window of unacknowledged
    // jobs, so a backlog of low jobs never keeps a high one from arriving.
    $client = $clients[] = new Mqtt\Client($server + ['client_id' => "$workerId-$priority", 'clean_session' => false], "jobs-$priority");
    $queues[$priority] = new Mqtt\Subscriber([$client]);
    $queues[$priority]->subscribe("\$share/workers/jobs/queue/$priority/+", qos: 1);
}

$stop = false;
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function () use (&$stop) { $stop = true; });
pcntl_signal(SIGINT, function () use (&$stop) { $stop = true; });

$control->publishSync($statusTopic, $state('online'), qos: 1, retain: true);
echo "worker $workerId online, taking jobs/queue/{high,normal,low}/+\n";

// A message of next() is acknowledged when next() is called again: after a
// job, the worker asks its queue for the next message (that acknowledges the
// job's) and keeps what it got for the next round.
$ahead = [];
$take = function (string $priority, float $wait) use ($queues, &$ahead): ?Mqtt\Message {
    $message = $ahead[$priority] ?? $queues[$priority]->next($wait);
    unset($ahead[$priority]);
    return $message;
};

$handled = 0;
$nextHeartbeat = microtime(true) + $heartbeatSeconds;
while (!$stop) {
    if (microtime(true) >= $nextHeartbeat) {
        $control->publish($statusTopic, $state('online'), qos: 1, retain: true);
        $nextHeartbeat = microtime(true) + $heartbeatSeconds;
    }
    $priority = null;
    $message = null;
    foreach (PRIORITIES as $candidate) {
        if (($message = $take($candidate, 0.0)) !== null) {
            $priority = $candidate;
            break;
        }
    }
    if ($message === null) {
        // Idle: wait a little on the high queue, then look at all three again.
        if (($message = $take('high', 0.1)) === null) {
            continue;
        }
        $priority = 'high';
    }

    $job = json_decode($message->payload, true);
    $type = substr($message->topic, strrpos($message->topic, '/') + 1);
    if (!is_array($job) || !is_string($job['id'] ?? null)) {
        fwrite(STDERR, "not a job on {$message->topic}, acknowledged and skipped\n");
    } else {
        $attempt = ($job['attempts'] ?? 0) + 1;
        echo "job {$job['id']} ($type, $priority) started, attempt $attempt" . ($message->duplicate ? ', delivered again' : '') . "\n";
        try {
            run_job($type, $job['data'] ?? []);
            $control->publishSync("jobs/status/{$job['id']}", json_encode(['status' => 'completed', 'worker' => $workerId, 'attempt' => $attempt]), qos: 1);
            echo "job {$job['id']} completed\n";
        } catch (Throwable $e) {
            // Another attempt goes back to the queue as a new message before this one is acknowledged.
            $again = $attempt < MAX_ATTEMPTS;
            if ($again) {
                $control->publishSync($message->topic, json_encode(['attempts' => $attempt] + $job), qos: 1);
            }
            $control->publishSync("jobs/status/{$job['id']}", json_encode(['status' => $again ? 'retry' : 'failed', 'worker' => $workerId, 'attempt' => $attempt, 'error' => $e->getMessage()]), qos: 1);
            echo "job {$job['id']} " . ($again ? 'will be retried' : 'failed') . ": {$e->getMessage()}\n";
        }
        $handled++;
    }
    // The job is done: acknowledge it.
    $ahead[$priority] = $queues[$priority]->next(0.0);
}

// What was received and not started stays unacknowledged: the broker keeps it
// for this worker. Closing sends the last acknowledgement; the subscriptions stay.
foreach ($clients as $client) {
    $client->close();
}
$control->publishSync($statusTopic, $state('offline', 'stopped'), qos: 1, retain: true);
echo "stopped after $handled job(s)\n";

/** The jobs this worker knows: "sleep" takes data.seconds, "fail" throws, anything else succeeds. */
function run_job(string $type, array $data): void
{
    match ($type) {
        'sleep' => usleep((int) (($data['seconds'] ?? 1) * 1_000_000)),
        'fail' => throw new RuntimeException($data['error'] ?? 'this job always fails'),
        default => null,
    };
}
