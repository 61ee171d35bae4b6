<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\App\QueueProbe;

/**
 * 10,000 jobs through three real `queue:work mqtt` workers while something
 * is killed halfway: every job runs, and the jobs that run twice are counted
 * and bounded by the jobs in flight on what was killed.
 */
final class QueueDriverLoadTest extends QueueTestCase
{
    private const JOBS = 10_000;

    public function test_ten_thousand_jobs_with_a_worker_killed_halfway(): void
    {
        $workers = $this->startThreeWorkers();
        $this->pushWhileWaitingForHalf(fn () => $workers[1]->kill());
        [$done, $duplicates] = $this->waitForEveryJob();
        fwrite(STDERR, sprintf("\n[queue load] a worker SIGKILLed halfway: %d jobs done, %d ran twice\n", $done, $duplicates));
        // The killed worker had one job running, and at most one finished
        // and not yet acknowledged (the acknowledgement goes out before the next job starts).
        self::assertLessThanOrEqual(2, $duplicates);
    }

    public function test_ten_thousand_jobs_with_the_broker_restarted_halfway(): void
    {
        $this->startThreeWorkers();
        $this->pushWhileWaitingForHalf(fn () => static::broker()->restart());
        [$done, $duplicates] = $this->waitForEveryJob();
        fwrite(STDERR, sprintf("\n[queue load] the broker restarted halfway: %d jobs done, %d ran twice\n", $done, $duplicates));
        // The broker publishes every worker's will when it restarts, and the
        // workers come back one by one. The queue's anchor, declared again by
        // the pusher after its reconnect, is served by one of them: the same
        // one for all, not each in turn taking it from the others.
        self::assertCount(2, static::broker()->connections($this->group() . '.anchor.default'), 'the anchor connected by the pusher, then by the one worker that serves it');
        // The job the pusher was publishing across its reconnect is published
        // again and can run on two workers. A worker back later than
        // adopt-after has its session served meanwhile, and each hand-over can
        // run its job in flight again. Jobs whose acknowledgement was lost
        // come again to the worker that ran them, and are recognised.
        self::assertLessThanOrEqual(3, $duplicates);
    }

    /** @return list<QueueWorkerProcess> */
    private function startThreeWorkers(): array
    {
        $this->bootQueueApp();
        $workers = [$this->startWorker(host: 'host-a'), $this->startWorker(host: 'host-b'), $this->startWorker(host: 'host-c')];
        $this->waitForOnlineConsumers(3);
        return $workers;
    }

    /**
     * Pushes 6,000 jobs, calls $kill once 5,000 are done (with the rest
     * queued or in flight), then pushes the other 4,000.
     */
    private function pushWhileWaitingForHalf(callable $kill): void
    {
        for ($i = 1; $i <= 6000; $i++) {
            QueueProbe::dispatch("job-$i")->onConnection('mqtt');
        }
        $deadline = microtime(true) + 120.0;
        while ($this->countDone() < self::JOBS / 2) {
            if (microtime(true) >= $deadline) {
                self::fail('half of the jobs done: not within 120s' . "\n" . $this->describe([]));
            }
            usleep(100_000);
        }
        $kill();
        for ($i = 6001; $i <= self::JOBS; $i++) {
            QueueProbe::dispatch("job-$i")->onConnection('mqtt');
        }
    }

    /** @return array{int, int} jobs done, and starts beyond one per job */
    private function waitForEveryJob(): array
    {
        $deadline = microtime(true) + 150.0;
        while (count($unique = array_unique($this->names('done'))) < self::JOBS) {
            if (microtime(true) >= $deadline) {
                $missing = array_diff(array_map(static fn (int $i) => "job-$i", range(1, self::JOBS)), $unique);
                self::fail(sprintf("%d of %d jobs done; missing e.g. %s\n%s", count($unique), self::JOBS, implode(', ', array_slice($missing, 0, 10)), $this->describe([])));
            }
            usleep(500_000);
        }
        return [count($unique), count($this->names('start')) - self::JOBS];
    }

    private function countDone(): int
    {
        return substr_count((string) @file_get_contents($this->appDir . '/storage/queue-runs.jsonl'), '"phase":"done"');
    }
}
