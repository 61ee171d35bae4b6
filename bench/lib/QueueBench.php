<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\PhpScript;
use MqttBroadcast\Tests\Support\TempDir;

/**
 * Laravel's queue through the package's `mqtt` driver and through Laravel's
 * `database` driver on SQLite, in the same run: real `php artisan queue:work`
 * workers of the package's test application (laravel-adapter/tests/app)
 * taking a backlog of empty jobs. The workers run first (an MQTT worker
 * subscribes, so that the broker splits the jobs among them), are stopped
 * with SIGSTOP while the backlog is dispatched, and continued: jobs/s from
 * SIGCONT until every job was processed, as their output says.
 */
final class QueueBench
{
    private const ARTISAN = __DIR__ . '/../../laravel-adapter/tests/app/artisan';

    /**
     * @return array<string, list<float>> by "{driver}.{workers}" jobs/s, and "{driver}.dispatch" dispatches/s, one value per run
     */
    public static function run(Broker $broker, int $jobs, int $runs, \Closure $progress): array
    {
        $results = [];
        for ($run = 1; $run <= $runs; $run++) {
            foreach ([1, 3] as $workers) {
                foreach (['mqtt', 'database'] as $driver) {
                    [$perSecond, $dispatched] = self::measure($broker, $driver, $workers, $jobs);
                    $results["$driver.$workers"][] = $perSecond;
                    $results["$driver.dispatch"][] = $dispatched;
                    $progress(sprintf('10  queue:work %s, %d worker%s: %s jobs/s (dispatch() %s/s)', $driver, $workers, $workers > 1 ? 's' : '', Table::rate($perSecond), Table::rate($dispatched)));
                }
            }
        }
        return $results;
    }

    /** @return array{float, float} jobs/s through the workers, dispatches/s */
    private static function measure(Broker $broker, string $driver, int $count, int $jobs): array
    {
        // In memory where there is /dev/shm, as the bench broker keeps nothing on disk either.
        $dir = (is_dir('/dev/shm') && is_writable('/dev/shm') ? '/dev/shm' : sys_get_temp_dir()) . '/mqtt-broadcast-bench-queue-' . bin2hex(random_bytes(4));
        foreach (['storage/logs', 'storage/framework/cache/data', 'storage/framework/views', 'database'] as $sub) {
            mkdir("$dir/$sub", 0777, true);
        }
        $pdo = new \PDO("sqlite:$dir/database/database.sqlite");
        $pdo->exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, queue VARCHAR NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL, reserved_at INTEGER, available_at INTEGER NOT NULL, created_at INTEGER NOT NULL)');
        $pdo->exec('CREATE INDEX jobs_queue_index ON jobs (queue)');
        // Readers do not block the writer: how SQLite is run for a queue.
        $pdo->exec('PRAGMA journal_mode=WAL');
        $pdo = null;
        $group = 'bench' . bin2hex(random_bytes(4));
        $env = [
            'MQTT_BROADCAST_APP_DIR' => $dir,
            'APP_ENV' => 'testing',
            'MQTT_HOST' => $broker->host(),
            'MQTT_PORT' => (string) $broker->port(),
            'MQTT_QUEUE_TOPIC_PREFIX' => "bench/$group/",
            'MQTT_QUEUE_GROUP' => $group,
        ];
        $workers = [];
        try {
            for ($i = 0; $i < $count; $i++) {
                $workers[] = new BackgroundProcess(
                    [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), self::ARTISAN, 'queue:work', $driver, '--sleep=0.05', '--tries=1'],
                    "$dir/worker-$i.out",
                    "$dir/worker-$i.err",
                    array_merge(getenv(), $env, ['MQTT_QUEUE_WORKER_NAME' => "bench-$i"])
                );
            }
            if ($driver === 'mqtt') {
                self::waitForOnlineConsumers($broker, "bench/$group/~consumers/$group/default/+", $count, $dir);
            } else {
                usleep(1_000_000);
            }
            foreach ($workers as $worker) {
                posix_kill($worker->pid(), SIGSTOP);
            }
            $push = Command::json(Command::mustRun(array_merge(['env'], array_map(static fn ($k, $v) => "$k=$v", array_keys($env), $env), Command::php(__DIR__ . '/../scripts/queue-push.php', ["connection=$driver", "count=$jobs"]))));
            $start = microtime(true);
            foreach ($workers as $worker) {
                posix_kill($worker->pid(), SIGCONT);
            }
            $deadline = $start + 300.0;
            while (($processed = self::processed($dir, $count)) < $jobs) {
                if (microtime(true) >= $deadline) {
                    throw new \RuntimeException("queue bench ($driver, $count workers): $processed of $jobs jobs processed within 300 s");
                }
                usleep(20_000);
            }
            return [$jobs / (microtime(true) - $start), $jobs / $push['seconds']];
        } finally {
            foreach ($workers as $worker) {
                posix_kill($worker->pid(), SIGCONT);
                $worker->terminate(10.0);
            }
            TempDir::remove($dir);
        }
    }

    /**
     * Jobs the workers finished, as their output says ("Processed:", and
     * "Failed:" for the database driver's jobs that SQLite's locking failed).
     */
    private static function processed(string $dir, int $workers): int
    {
        $total = 0;
        for ($i = 0; $i < $workers; $i++) {
            $output = (string) @file_get_contents("$dir/worker-$i.out");
            $total += substr_count($output, 'Processed:') + substr_count($output, 'Failed:');
        }
        return $total;
    }

    /** Waits until $count consumers announced themselves online (retained states, see laravel-adapter/src/Queue/Topics.php). */
    private static function waitForOnlineConsumers(Broker $broker, string $filter, int $count, string $dir): void
    {
        $deadline = microtime(true) + 30.0;
        while (true) {
            $out = "$dir/states.out";
            $sub = new BackgroundProcess(['mosquitto_sub', '-h', $broker->host(), '-p', (string) $broker->port(), '-t', $filter, '-W', '1', '-F', '%p'], $out, $out);
            $sub->wait(3.0);
            $online = substr_count((string) @file_get_contents($out), '"state":"online"');
            if ($online >= $count) {
                return;
            }
            if (microtime(true) >= $deadline) {
                throw new \RuntimeException("queue bench: $online of $count mqtt workers online within 30 s: " . @file_get_contents("$dir/worker-0.err"));
            }
        }
    }
}
