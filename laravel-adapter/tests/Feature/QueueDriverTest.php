<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Queue\MaxAttemptsExceededException;
use Illuminate\Support\Facades\Bus;
use Illuminate\Support\Facades\Queue;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Tests\App\QueueProbe;

/**
 * The "mqtt" queue driver's guarantees (README, "MQTT as a Laravel queue") on
 * a real Mosquitto with real `php artisan queue:work` workers, each with
 * something killed: a worker (SIGKILL, or SIGTERM for a graceful stop) or
 * the broker (restarted, with its persistence).
 */
final class QueueDriverTest extends QueueTestCase
{
    // 1. A job pushed while no worker runs is not lost.

    public function test_jobs_pushed_before_any_worker_ever_ran_run_when_one_comes_also_after_a_broker_restart(): void
    {
        $this->bootQueueApp();
        foreach (['a', 'b', 'c'] as $name) {
            QueueProbe::dispatch($name)->onConnection('mqtt');
        }
        static::broker()->restart();
        $this->startWorker();
        $this->waitForRuns(fn () => count($this->names('done')) >= 3, 'the three jobs done');
        self::assertSameMultiset(['a', 'b', 'c'], $this->names('done'));
    }

    public function test_jobs_pushed_after_the_only_worker_was_killed_run_when_another_host_comes(): void
    {
        $this->bootQueueApp();
        $first = $this->startWorker(host: 'host-a');
        QueueProbe::dispatch('warm-up')->onConnection('mqtt');
        $this->waitForRuns(fn () => $this->names('done') === ['warm-up'], 'the warm-up job done');
        $first->kill();
        foreach (['a', 'b', 'c', 'd'] as $name) {
            QueueProbe::dispatch($name)->onConnection('mqtt');
        }
        static::broker()->restart();
        // Another slot: the jobs wait in host-a's session, which host-b adopts.
        $this->startWorker(host: 'host-b');
        $jobs = fn () => array_values(array_diff($this->names('done'), ['warm-up']));
        $this->waitForRuns(fn () => count($jobs()) >= 4, 'the four jobs done');
        // The warm-up may come again: killed before it took the next job, the
        // first worker had not acknowledged it.
        self::assertSameMultiset(['a', 'b', 'c', 'd'], $jobs());
    }

    public function test_workers_back_from_a_broker_restart_leave_the_queues_anchor_to_one_of_them(): void
    {
        $this->bootQueueApp();
        $workers = [$this->startWorker(host: 'host-a'), $this->startWorker(host: 'host-b'), $this->startWorker(host: 'host-c')];
        $this->waitForOnlineConsumers(3);
        QueueProbe::dispatch('before')->onConnection('mqtt');
        $this->waitForRuns(fn () => $this->names('done') === ['before'], 'the first job done');
        // Held through the restart and the next push, the three come back
        // together to find every worker offline (the broker published their
        // wills) and the anchor the pusher declared again after its reconnect.
        foreach ($workers as $worker) {
            $worker->pause();
        }
        static::broker()->restart();
        QueueProbe::dispatch('after')->onConnection('mqtt');
        foreach ($workers as $worker) {
            $worker->resume();
        }
        $runs = $this->waitForRuns(fn () => in_array('after', $this->names('done'), true), 'the job pushed after the restart done');
        $this->waitForOnlineConsumers(3);
        usleep(500_000);
        $anchor = static::broker()->connections($this->group() . '.anchor.default');
        self::assertCount(2, $anchor, "the anchor connected by the pusher, then by the one worker elected to serve it\n" . implode("\n", $anchor));
        self::assertSame(['before', 'after'], $this->names('start'), $this->describe($runs));
    }

    public function test_an_application_on_a_connection_that_reconnected_before_it_declares_no_anchor_while_workers_are_online(): void
    {
        $this->bootQueueApp();
        $this->startWorker();
        $this->waitForOnlineConsumers(1);
        QueueProbe::dispatch('before')->onConnection('mqtt');
        static::broker()->restart();
        $this->waitForOnlineConsumers(1);
        // Pushed on a connection that came back since the last push: the
        // anchor subscribes again, and the worker serves it.
        QueueProbe::dispatch('after')->onConnection('mqtt');
        $anchor = fn () => static::broker()->connections($this->group() . '.anchor.default');
        $deadline = microtime(true) + 5.0;
        while (count($anchor()) < 2 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        self::assertCount(2, $anchor(), 'the anchor connected by the pusher after its reconnect, then by the worker');
        // The next application of this process (as each PHP-FPM request is:
        // the connection outlives it) finds the worker online.
        $this->bootQueueApp();
        QueueProbe::dispatch('next')->onConnection('mqtt');
        $runs = $this->waitForRuns(fn () => count($this->names('done')) >= 3, 'the three jobs done');
        self::assertCount(2, $anchor(), "no anchor declared again\n" . implode("\n", $anchor()));
        self::assertSameMultiset(['before', 'after', 'next'], $this->names('start'), $this->describe($runs));
    }

    // 2. A worker killed in the middle of a job: the job runs again.

    public function test_the_job_of_a_worker_killed_mid_job_runs_again_when_the_worker_is_back(): void
    {
        $this->bootQueueApp();
        QueueProbe::dispatch('slow', 'sleep:2')->onConnection('mqtt');
        $worker = $this->startWorker();
        $this->waitForRuns(fn () => count($this->names('start')) === 1, 'the job started');
        $worker->kill();
        self::assertSame([], $this->names('done'));

        $this->startWorker();
        $runs = $this->waitForRuns(fn () => $this->names('done') === ['slow'], 'the job done after the restart');
        self::assertSame([1, 2], array_column($this->runs('start'), 'attempts'), "the killed attempt counts\n" . $this->describe($runs));
    }

    public function test_the_job_of_a_worker_killed_mid_job_runs_on_another_worker_within_retry_after(): void
    {
        $this->bootQueueApp();
        $workers = [$this->startWorker(host: 'host-a'), $this->startWorker(host: 'host-b')];
        $this->waitForOnlineConsumers(2);
        QueueProbe::dispatch('slow', 'sleep:60')->onConnection('mqtt');
        $runs = $this->waitForRuns(fn () => count($this->names('start')) === 1, 'the job started');
        $pid = $runs[0]['pid'];
        $killedAt = microtime(true);
        foreach ($workers as $worker) {
            if ($worker->pid() === $pid) {
                $worker->kill();
            }
        }
        $runs = $this->waitForRuns(fn () => count($this->names('start')) === 2, 'the job started again', 3 * self::RETRY_AFTER);
        $again = $this->runs('start')[1];
        self::assertNotSame($pid, $again['pid'], 'on the other worker');
        self::assertSame(2, $again['attempts']);
        self::assertLessThan(self::RETRY_AFTER, $again['at'] - $killedAt, "within retry_after\n" . $this->describe($runs));
    }

    // 3. Steady state: each job runs once; --queue=high,default,low takes high first.

    public function test_each_job_runs_exactly_once_with_three_workers_across_graceful_restarts(): void
    {
        $this->bootQueueApp();
        // host-b exits after 10 jobs, right after one (as `--max-jobs` and a
        // SIGTERM during a job do): the job is acknowledged at exit, or it would run again.
        $this->startWorker(host: 'host-a');
        $leaving = $this->startWorker(['--max-jobs=10'], host: 'host-b');
        $this->startWorker(host: 'host-c');
        $this->waitForOnlineConsumers(3);
        $names = array_map(static fn (int $i) => "job-$i", range(1, 150));
        foreach (array_slice($names, 0, 75) as $name) {
            QueueProbe::dispatch($name)->onConnection('mqtt');
        }
        $this->waitUntilExited($leaving, 30.0);
        $this->startWorker(host: 'host-b');
        $this->waitForOnlineConsumers(3);
        foreach (array_slice($names, 75) as $name) {
            QueueProbe::dispatch($name)->onConnection('mqtt');
        }
        $runs = $this->waitForRuns(fn () => count($this->names('done')) >= 150, 'all 150 jobs done');
        // Every job is acknowledged: none comes back after the workers stop and start again.
        foreach ($this->runningWorkers() as $worker) {
            $worker->stop();
        }
        foreach (['host-a', 'host-b', 'host-c'] as $host) {
            $this->startWorker(host: $host);
        }
        QueueProbe::dispatch('last')->onConnection('mqtt');
        $this->waitForRuns(fn () => in_array('last', $this->names('done'), true), 'the last job done');
        usleep(500_000);
        self::assertSame([...$names, 'last'], $this->sorted($this->names('start')), "each job started once\n" . $this->describe($runs));
        self::assertSame([...$names, 'last'], $this->sorted($this->names('done')));
    }

    public function test_a_worker_of_high_default_low_takes_high_first(): void
    {
        $this->bootQueueApp();
        $worker = $this->startWorker(['--queue=high,default,low']);
        QueueProbe::dispatch('warm-up')->onConnection('mqtt')->onQueue('low');
        $this->waitForRuns(fn () => $this->names('done') === ['warm-up'], 'the warm-up job done');
        // Stopped, not killed: a worker acknowledges a job as it takes the
        // next one or exits, and one killed in between gets the warm-up again.
        $worker->stop();
        foreach (['low', 'default', 'high'] as $queue) {
            foreach (range(1, 5) as $i) {
                QueueProbe::dispatch("$queue-$i")->onConnection('mqtt')->onQueue($queue);
            }
        }
        $this->startWorker(['--queue=high,default,low']);
        $this->waitForRuns(fn () => count($this->names('done')) >= 16, 'the fifteen jobs done');
        $queues = array_map(static fn (string $name) => explode('-', $name)[0], array_slice($this->names('start'), 1));
        self::assertSame([...array_fill(0, 5, 'high'), ...array_fill(0, 5, 'default'), ...array_fill(0, 5, 'low')], $queues, $this->describe($this->runs()));
    }

    // 4. later(), release($delay): not before their time, and kept across restarts.

    public function test_delayed_and_released_jobs_wait_for_their_time_across_worker_and_broker_restarts(): void
    {
        $this->bootQueueApp();
        $worker = $this->startWorker();
        $pushedAt = microtime(true);
        QueueProbe::dispatch('later')->onConnection('mqtt')->delay(4);
        QueueProbe::dispatch('released', 'release:3')->onConnection('mqtt');
        $runs = $this->waitForRuns(fn () => $this->names('released') === ['released'], 'the job released');
        $worker->kill();
        static::broker()->restart();
        $this->startWorker(host: 'host-a');
        $runs = $this->waitForRuns(fn () => count($this->names('done')) >= 2, 'both jobs done');
        $released = $this->runs('released')[0];
        $starts = [];
        foreach ($this->runs('start') as $run) {
            $starts[$run['name']][] = $run;
        }
        self::assertCount(1, $starts['later']);
        self::assertGreaterThanOrEqual($pushedAt + 4, $starts['later'][0]['at'], "later(4) ran before its time\n" . $this->describe($runs));
        self::assertCount(2, $starts['released']);
        self::assertGreaterThanOrEqual($released['at'] + 3, $starts['released'][1]['at'], "release(3) ran before its time\n" . $this->describe($runs));
        self::assertSame(2, $starts['released'][1]['attempts']);
    }

    public function test_with_delay_broker_later_publishes_to_the_brokers_delayed_topic(): void
    {
        $listener = $this->listen('$delayed/#');
        $this->bootQueueApp(['MQTT_QUEUE_DELAY' => 'broker']);
        QueueProbe::dispatch('later')->onConnection('mqtt')->delay(7);
        [[$topic, $payload]] = $listener->waitFor(1);
        self::assertSame('$delayed/7/' . $this->topic('q/default'), $topic);
        self::assertSame(QueueProbe::class, json_decode($payload, true)['displayName']);
    }

    // 5. Attempts across hosts and restarts; tries, maxExceptions, failed_jobs as with Redis.

    public function test_attempts_are_counted_across_hosts_and_a_job_past_its_tries_fails(): void
    {
        $this->bootQueueApp();
        $job = new QueueProbe('killer', 'kill:9');
        $job->tries = 2;
        dispatch($job->onConnection('mqtt'));
        $first = $this->startWorker(host: 'host-a');
        $this->waitForRuns(fn () => count($this->names('start')) === 1, 'attempt 1 started');
        $this->waitUntilExited($first);
        // Another host adopts host-a's session and gets the job: attempt 2 kills it too.
        $second = $this->startWorker(host: 'host-b');
        $this->waitForRuns(fn () => count($this->names('start')) === 2, 'attempt 2 started on host-b');
        $this->waitUntilExited($second);
        // host-a is back: attempt 3 is one more than tries, and the job fails without running.
        $this->startWorker(host: 'host-a');
        $runs = $this->waitForRuns(fn () => count($this->runs('failed')) === 1 && count($this->failedJobs()) === 1, 'the job failed, in failed_jobs');
        self::assertSame([1, 2], array_column($this->runs('start'), 'attempts'), $this->describe($runs));
        self::assertSame(MaxAttemptsExceededException::class, $this->runs('failed')[0]['exception']);
        $failed = $this->failedJobs();
        self::assertCount(1, $failed);
        self::assertSame('mqtt', $failed[0]['connection']);
        self::assertSame('killer', unserialize(json_decode($failed[0]['payload'], true)['data']['command'])->name);
    }

    public function test_tries_and_max_exceptions_fail_the_job_into_failed_jobs(): void
    {
        $this->bootQueueApp();
        $released = $this->listen($this->topic('q/~delayed/default'));
        $thrower = new QueueProbe('thrower', 'throw');
        $thrower->tries = 3;
        $thrower->backoff = 2;
        dispatch($thrower->onConnection('mqtt'));
        $limited = new QueueProbe('limited', 'throw');
        $limited->tries = 10;
        $limited->maxExceptions = 2;
        $limited->backoff = 2;
        dispatch($limited->onConnection('mqtt'));
        $until = new QueueProbe('until', 'throw');
        $until->retryUntil = time() + 4;
        $until->backoff = 1;
        dispatch($until->onConnection('mqtt'));
        $worker = $this->startWorker(['--tries=0']);
        // The three threw once and went back to the queue for their backoff:
        // the worker is killed between attempts, and the counts go on where they were.
        $released->waitFor(3);
        $worker->kill();
        $this->startWorker(['--tries=0']);
        $runs = $this->waitForRuns(fn () => count($this->runs('failed')) === 3 && count($this->failedJobs()) === 3, 'the three jobs failed, in failed_jobs');
        $attempts = [];
        $failed = [];
        foreach ($this->runs('start') as $run) {
            $attempts[$run['name']][] = $run['attempts'];
        }
        foreach ($this->runs('failed') as $run) {
            $failed[$run['name']] = $run;
        }
        self::assertSame([1, 2, 3], $attempts['thrower'], $this->describe($runs));
        self::assertSame([1, 2], $attempts['limited'], $this->describe($runs));
        self::assertSame(\RuntimeException::class, $failed['thrower']['exception']);
        self::assertSame(\RuntimeException::class, $failed['limited']['exception']);
        // retryUntil: attempts while the second of retryUntil has not passed;
        // after it, the attempt that throws (RuntimeException) or the next one
        // (MaxAttemptsExceededException, before it runs) fails the job, as Laravel decides.
        self::assertGreaterThanOrEqual(2, count($attempts['until']), $this->describe($runs));
        foreach ($this->runs('start') as $run) {
            if ($run['name'] === 'until') {
                self::assertLessThan($until->retryUntil + 1, $run['at'], 'an attempt after retryUntil');
            }
        }
        self::assertContains($failed['until']['exception'], [\RuntimeException::class, MaxAttemptsExceededException::class]);
        self::assertGreaterThanOrEqual($until->retryUntil, $failed['until']['at']);
    }

    // 6. A message that is not a job: acknowledged, logged, reported; the worker goes on.

    public function test_a_message_that_is_not_a_job_is_acknowledged_logged_and_the_worker_goes_on(): void
    {
        $this->bootQueueApp();
        $worker = $this->startWorker();
        QueueProbe::dispatch('warm-up')->onConnection('mqtt');
        $this->waitForRuns(fn () => $this->names('done') === ['warm-up'], 'the warm-up job done');
        static::broker()->mosquittoPub($this->topic('q/default'), 'not json at all');
        static::broker()->mosquittoPub($this->topic('q/default'), '{"hello":"world"}');
        QueueProbe::dispatch('after')->onConnection('mqtt');
        $this->waitForRuns(fn () => in_array('after', $this->names('done'), true), 'the job after them done');
        self::assertTrue($worker->isRunning());
        self::assertSame(2, substr_count($this->laravelLog(), 'RejectedJobMessage'), $this->laravelLog());
        self::assertStringContainsString('not a Laravel job payload: not a JSON object', $this->laravelLog());
        self::assertStringContainsString('not a Laravel job payload: no "job" key', $this->laravelLog());

        // Acknowledged: a worker killed and started again does not get them again.
        $worker->kill();
        $this->startWorker();
        QueueProbe::dispatch('last')->onConnection('mqtt');
        $this->waitForRuns(fn () => in_array('last', $this->names('done'), true), 'the last job done');
        self::assertSame(2, substr_count($this->laravelLog(), 'RejectedJobMessage'), $this->laravelLog());
    }

    // Laravel's own machinery beyond the guarantees: batches, and Horizon-style tags.

    public function test_a_batch_runs_every_job_and_is_marked_finished(): void
    {
        $this->bootQueueApp();
        $batch = Bus::batch([new QueueProbe('b1'), new QueueProbe('b2'), new QueueProbe('b3')])
            ->name('probes')
            ->onConnection('mqtt')
            ->dispatch();
        $this->startWorker();
        $this->waitForRuns(fn () => count($this->names('done')) === 3, 'the batch\'s three jobs done');

        $pdo = new \PDO('sqlite:' . $this->appDir . '/database/database.sqlite');
        $row = null;
        $deadline = microtime(true) + 10;
        while (microtime(true) < $deadline) {
            $row = $pdo->query("SELECT * FROM job_batches WHERE id = " . $pdo->quote($batch->id))->fetch(\PDO::FETCH_ASSOC);
            if ($row !== false && $row['finished_at'] !== null) {
                break;
            }
            usleep(50_000);
        }
        self::assertSame(['probes', 3, 0, 0], [$row['name'], (int) $row['total_jobs'], (int) $row['pending_jobs'], (int) $row['failed_jobs']], json_encode($row));
        self::assertNotNull($row['finished_at'], 'the batch finished');
    }

    public function test_the_payload_carries_the_jobs_tags(): void
    {
        $listener = $this->listen('#');
        $this->bootQueueApp();
        $marker = 'tagged-' . $this->uniq();
        $job = new QueueProbe($marker);
        $job->tagList = ['tenant:7', 'urgent'];
        dispatch($job)->onConnection('mqtt');

        $deadline = microtime(true) + 10;
        $payload = null;
        while ($payload === null && microtime(true) < $deadline) {
            foreach ($listener->payloads() as $message) {
                if (str_contains($message, $marker)) {
                    $payload = json_decode($message, true, 512, JSON_THROW_ON_ERROR);
                }
            }
            usleep(50_000);
        }
        self::assertNotNull($payload, 'the job went to the broker');
        self::assertSame(['tenant:7', 'urgent'], $payload['tags']);
    }

    public function test_a_bad_queue_config_fails_naming_the_key(): void
    {
        $this->bootQueueApp();
        $cases = [
            ['retry_afterr' => 5, 'queue.connections.bad.retry_afterr" (did you mean "retry_after"?)'],
            ['group' => 'a/b', 'queue.connections.bad.group'],
            ['delay' => 'later', 'queue.connections.bad.delay'],
            ['retry_after' => 'soon', 'queue.connections.bad.retry_after'],
            ['topic_prefix' => 'jobs/#', 'queue.connections.bad.topic_prefix'],
            ['queue' => 'a/+', 'queue.connections.bad.queue'],
            ['block_for' => -1, 'queue.connections.bad.block_for'],
            ['worker_name' => 'web 1', 'queue.connections.bad.worker_name'],
            ['connection' => 'nope', 'mqtt-broadcast.connections.nope'],
        ];
        foreach ($cases as $case) {
            $expected = array_pop($case);
            config(['queue.connections.bad' => ['driver' => 'mqtt'] + $case]);
            try {
                Queue::connection('bad');
                self::fail('no exception for ' . json_encode($case));
            } catch (InvalidConfigException $e) {
                self::assertStringContainsString($expected, $e->getMessage());
            }
        }
        $this->expectExceptionMessage('queue name "a/#" cannot be an MQTT topic');
        Queue::connection('mqtt')->push(new QueueProbe('x'), '', 'a/#');
    }

    /** @return list<QueueWorkerProcess> */
    private function runningWorkers(): array
    {
        return array_values(array_filter($this->workers(), static fn (QueueWorkerProcess $w) => $w->isRunning()));
    }

    private function waitUntilExited(QueueWorkerProcess $worker, float $timeout = 10.0): void
    {
        $deadline = microtime(true) + $timeout;
        while ($worker->isRunning()) {
            if (microtime(true) >= $deadline) {
                self::fail("the worker did not die\n" . $worker->output());
            }
            usleep(20_000);
        }
    }

    /** @param list<string> $names */
    private function sorted(array $names): array
    {
        natsort($names);
        return array_values($names);
    }
}
