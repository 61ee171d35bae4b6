<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Database\Schema\Blueprint;
use Illuminate\Queue\Events\JobProcessed;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Schema;
use Illuminate\Support\Facades\Event;
use MqttBroadcast\Laravel\Exceptions\RateLimitExceededException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Tests\TestCase;

/** rate_limiting per connection, counted in the application's (file) cache. */
final class RateLimitTest extends TestCase
{
    public function test_reject_throws_past_the_limit_and_names_the_connection(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootLimitedApp('reject', ['max_per_minute' => 2]);

        MqttBroadcast::publish($this->topic('a'), '1');
        MqttBroadcast::publishSync($this->topic('a'), '2');
        try {
            MqttBroadcast::publish($this->topic('a'), '3');
            self::fail('published past the limit');
        } catch (RateLimitExceededException $e) {
            self::assertStringStartsWith('Rate limit exceeded for connection "default": 2 messages per minute (mqtt-broadcast.connections.default.rate_limiting). Retry after ', $e->getMessage());
            self::assertSame(['default', 2, 'minute'], [$e->getConnection(), $e->getLimit(), $e->getWindow()]);
            self::assertGreaterThan(0, $e->getRetryAfter());
        }
        MqttBroadcast::publish($this->topic('b'), 'other connection', 'backup');

        self::assertSameMultiset(['1', '2', 'other connection'], array_column($listener->waitFor(3), 1));
    }

    public function test_throttle_makes_publish_sync_wait_for_the_next_window(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootLimitedApp('throttle', ['max_per_second' => 1]);

        $this->startOfASecond();
        $started = microtime(true);
        MqttBroadcast::publishSync($this->topic('a'), '1');
        MqttBroadcast::publishSync($this->topic('a'), '2');

        self::assertGreaterThanOrEqual(0.5, microtime(true) - $started, 'the second waited');
        self::assertSame(['1', '2'], array_column($listener->waitFor(2), 1));
    }

    public function test_throttle_hands_a_publish_over_the_limit_to_the_queue(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootLimitedApp('throttle', ['max_per_second' => 1]);
        $jobs = 0;
        Event::listen(JobProcessed::class, static function () use (&$jobs): void {
            $jobs++;
        });

        $this->startOfASecond();
        MqttBroadcast::publish($this->topic('a'), '1');
        MqttBroadcast::publish($this->topic('a'), '2');

        self::assertSame(1, $jobs, 'the second went through MqttMessageJob (here on the sync queue, which waits)');
        self::assertSame(['1', '2'], array_column($listener->waitFor(2), 1));
    }

    public function test_on_a_real_queue_a_throttled_publish_waits_in_the_queue_and_a_worker_sends_it(): void
    {
        $listener = $this->listen($this->topic('#'));
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootLimitedApp('throttle', ['max_per_second' => 1], ['MQTT_JOB_CONNECTION' => 'database']);
        Schema::create('jobs', static function (Blueprint $table): void {
            $table->bigIncrements('id');
            $table->string('queue')->index();
            $table->longText('payload');
            $table->unsignedTinyInteger('attempts');
            $table->unsignedInteger('reserved_at')->nullable();
            $table->unsignedInteger('available_at');
            $table->unsignedInteger('created_at');
        });

        $this->startOfASecond();
        MqttBroadcast::publish($this->topic('a'), 'now');
        MqttBroadcast::publish($this->topic('a'), 'later');
        // Over the limit too: the job, when a worker runs it at once, goes back to the queue.
        MqttMessageJob::dispatch($this->topic('a'), 'released');

        self::assertSame(2, DB::table('jobs')->count(), 'both wait in the queue');
        self::assertSame(['now'], array_column($listener->waitFor(1), 1));
        // A worker that stops when no job is due, run until the queue is empty: each job is published once its second has room.
        $deadline = microtime(true) + 20.0;
        while (DB::table('jobs')->count() > 0) {
            self::assertLessThan($deadline, microtime(true), 'jobs left in the queue: ' . json_encode(DB::table('jobs')->get()));
            usleep(300_000);
            $worker = $this->artisan(['queue:work', 'database', '--stop-when-empty', '--sleep=0'], ['MQTT_JOB_CONNECTION' => 'database'], 30.0);
            self::assertSame(0, $worker->exitCode, $worker->describe());
        }
        self::assertSameMultiset(['now', 'later', 'released'], array_column($listener->waitFor(3), 1));
    }

    /**
     * Waits for the next whole second: the cache counts in whole seconds, so a
     * max_per_second window ends at the next one, and two publishes must fall
     * into the same window for the second to be over the limit.
     */
    private function startOfASecond(): void
    {
        usleep((int) ((1.0 - fmod(microtime(true), 1.0)) * 1e6) + 5_000);
    }

    /** @param array<string, int> $limits */
    private function bootLimitedApp(string $strategy, array $limits, array $env = []): void
    {
        $app = $this->bootApp($env);
        $app['config']->set('mqtt-broadcast.rate_limiting.strategy', $strategy);
        $app['config']->set('mqtt-broadcast.connections.default.rate_limiting', $limits);
        // The application's defaults.connection limits 1000 a minute: backup keeps those.
    }
}
