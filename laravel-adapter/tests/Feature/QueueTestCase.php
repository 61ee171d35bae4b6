<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\JsonLines;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Failure;

/**
 * Base of the queue driver's tests: the test application with the "mqtt"
 * queue connection on a topic prefix and a worker group of this test's own,
 * real `php artisan queue:work mqtt` workers, and what the test job
 * (Tests\App\QueueProbe) recorded.
 */
abstract class QueueTestCase extends TestCase
{
    /** Seconds: short, so that adoption (a third of it) happens within a test. */
    protected const RETRY_AFTER = 6;

    /** @var list<QueueWorkerProcess> */
    private array $workers = [];
    private int $workerCount = 0;

    protected function setUp(): void
    {
        parent::setUp();
        // Laravel's failed_jobs table (database-uuids failer, see tests/app/config/queue.php).
        $pdo = new \PDO('sqlite:' . $this->appDir . '/database/database.sqlite');
        $pdo->exec('CREATE TABLE failed_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, uuid VARCHAR UNIQUE, connection TEXT, queue TEXT, payload TEXT, exception TEXT, failed_at DATETIME DEFAULT CURRENT_TIMESTAMP)');
        // And its job_batches table (queue.batching in tests/app/config/queue.php).
        $pdo->exec('CREATE TABLE job_batches (id VARCHAR PRIMARY KEY, name VARCHAR, total_jobs INTEGER, pending_jobs INTEGER, failed_jobs INTEGER, failed_job_ids TEXT, options TEXT, cancelled_at INTEGER, created_at INTEGER, finished_at INTEGER)');
    }

    protected function tearDown(): void
    {
        foreach ($this->workers as $worker) {
            $worker->kill();
        }
        $this->workers = [];
        parent::tearDown();
    }

    /** @return array<string, string> */
    protected function queueEnv(array $overrides = []): array
    {
        return array_replace([
            'MQTT_QUEUE_TOPIC_PREFIX' => $this->topic('q/'),
            'MQTT_QUEUE_GROUP' => $this->group(),
            'MQTT_QUEUE_RETRY_AFTER' => (string) static::RETRY_AFTER,
            'MQTT_QUEUE_WORKER_NAME' => 'host-a',
        ], $overrides);
    }

    /** This test's worker group (queue.mqtt.group): the first part of every consumer's client id. */
    protected function group(): string
    {
        return 'g' . substr(md5($this->uniq()), 0, 12);
    }

    /**
     * Starts `php artisan queue:work mqtt` with $arguments (default: --queue=default).
     *
     * @param list<string> $arguments
     */
    protected function startWorker(array $arguments = [], string $host = 'host-a', array $env = []): QueueWorkerProcess
    {
        $worker = new QueueWorkerProcess(
            self::ARTISAN,
            array_merge(['--sleep=0.05', '--tries=3'], $arguments),
            $this->appEnv($this->queueEnv(['MQTT_QUEUE_WORKER_NAME' => $host] + $env)),
            sprintf('%s/worker-%d.out', $this->appDir, ++$this->workerCount)
        );
        $this->workers[] = $worker;
        return $worker;
    }

    /** @return list<QueueWorkerProcess> every worker this test started */
    protected function workers(): array
    {
        return $this->workers;
    }

    /** Boots the test application in this process, to dispatch jobs as an application does. */
    protected function bootQueueApp(array $env = []): void
    {
        $this->bootApp($this->queueEnv($env));
    }

    /**
     * What the jobs recorded, in order; only $phase ("start", "done", "failed", "released") when given.
     *
     * @return list<array<string, mixed>>
     */
    protected function runs(?string $phase = null): array
    {
        $runs = JsonLines::read($this->appDir . '/storage/queue-runs.jsonl');
        return $phase === null ? $runs : array_values(array_filter($runs, static fn (array $r) => $r['phase'] === $phase));
    }

    /**
     * Polls until $done(runs) holds; fails with the runs and the workers' output past $timeout.
     *
     * @param callable(list<array<string, mixed>>): bool $done
     * @return list<array<string, mixed>>
     */
    protected function waitForRuns(callable $done, string $what, float $timeout = 30.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (!$done($runs = $this->runs())) {
            if (microtime(true) >= $deadline) {
                Failure::raise("$what: not within {$timeout}s\n" . $this->describe($runs));
            }
            usleep(50_000);
        }
        return $runs;
    }

    /**
     * Names of the jobs that recorded $phase, as often as they did.
     *
     * @return list<string>
     */
    protected function names(string $phase): array
    {
        return array_column($this->runs($phase), 'name');
    }

    /**
     * Waits until $count workers announced their consumer of $queue online
     * (the retained states the workers watch each other by), so that jobs
     * pushed from now on are split among them.
     */
    protected function waitForOnlineConsumers(int $count, string $queue = 'default', float $timeout = 15.0): void
    {
        $group = $this->queueEnv()['MQTT_QUEUE_GROUP'];
        $listener = $this->listen($this->topic("q/~consumers/$group/$queue/+"));
        $deadline = microtime(true) + $timeout;
        while (true) {
            $latest = [];
            foreach ($listener->messages() as [$topic, $payload]) {
                $latest[$topic] = json_decode($payload, true)['state'] ?? null;
            }
            if (count(array_keys($latest, 'online', true)) >= $count) {
                return;
            }
            if (microtime(true) >= $deadline) {
                Failure::raise("$count consumers of $queue online: not within {$timeout}s\n" . json_encode($latest) . "\n" . $this->describe($this->runs()));
            }
            usleep(50_000);
        }
    }

    /** Rows of failed_jobs. */
    protected function failedJobs(): array
    {
        $pdo = new \PDO('sqlite:' . $this->appDir . '/database/database.sqlite');
        return $pdo->query('SELECT * FROM failed_jobs ORDER BY id')->fetchAll(\PDO::FETCH_ASSOC);
    }

    /** @param list<array<string, mixed>> $runs */
    protected function describe(array $runs): string
    {
        $text = "--- runs ---\n" . Failure::tail(implode("\n", array_map('json_encode', $runs)), 30);
        foreach ($this->workers as $i => $worker) {
            $text .= sprintf("\n--- worker %d (pid %d, %s) ---\n%s", $i + 1, $worker->pid(), $worker->isRunning() ? 'running' : 'exited', $worker->output());
        }
        return $text . "\n--- laravel.log ---\n" . Failure::tail($this->laravelLog(), 30);
    }
}
