<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use Mqtt\ConnectionException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;

/** The failed-publish store (mqtt_failed_jobs) and its commands, against a broker that is not there, then is. */
final class FailedPublishTest extends TestCase
{
    public function test_a_job_that_failed_for_good_is_kept_and_the_commands_retry_forget_and_flush_it(): void
    {
        $down = ['MQTT_PORT' => (string) Broker::freePort(), 'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true', 'MQTT_MAX_RETRIES' => '1', 'MQTT_MAX_RETRY_DELAY' => '1'];
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootApp($down);
        Artisan::call('migrate', ['--force' => true]);
        $topic = $this->topic('failed');
        foreach (["\x00\xff binary", '{"n":1}', 'third'] as $payload) {
            try {
                MqttMessageJob::dispatch($topic, $payload, 'default', 1);
                self::fail('the job published without a broker');
            } catch (ConnectionException) {
            }
        }
        MqttBroadcast::connection()->close();

        $failed = FailedMqttJob::query()->orderBy('id')->get();
        self::assertSame([["\x00\xff binary", 1, false], ['{"n":1}', 1, false], ['third', 1, false]], $failed->map(static fn (FailedMqttJob $j) => [$j->payload(), $j->qos, $j->retain])->all());
        self::assertStringContainsString('Mqtt\ConnectionException', $failed[0]->exception);
        [$binary, $json, $third] = $failed->pluck('external_id')->all();

        $list = $this->artisan(['mqtt-broadcast:failed']);
        self::assertSame(0, $list->exitCode, $list->describe());
        self::assertStringContainsString("| $binary | default", $list->stdout);

        $again = $this->artisan(['mqtt-broadcast:retry-all'], $down);
        self::assertSame(1, $again->exitCode, $again->describe());
        self::assertStringContainsString("Publishing $binary again failed, it stays in the store", $again->stdout);
        self::assertSame([1, 1, 1], FailedMqttJob::query()->orderBy('id')->pluck('retry_count')->all());

        $listener = $this->listen($topic);
        $retry = $this->artisan(['mqtt-broadcast:retry', $binary, $json, 'no-such-id']);
        self::assertSame(1, $retry->exitCode, 'an unknown ID fails the command; ' . $retry->describe());
        self::assertStringContainsString('No failed publish with ID no-such-id.', $retry->stdout);
        self::assertSameMultiset(["\x00\xff binary", '{"n":1}'], array_column($listener->waitFor(2), 1));
        self::assertSame([$third], FailedMqttJob::query()->pluck('external_id')->all(), 'what went out is forgotten');

        $forget = $this->artisan(['mqtt-broadcast:forget', $third]);
        self::assertSame(0, $forget->exitCode, $forget->describe());
        self::assertSame(0, FailedMqttJob::query()->count());

        FailedMqttJob::query()->create(['broker' => 'default', 'topic' => 't', 'message' => 'x', 'exception' => 'e', 'failed_at' => now()]);
        $flush = $this->artisan(['mqtt-broadcast:flush']);
        self::assertSame(0, $flush->exitCode, $flush->describe());
        self::assertStringContainsString('Deleted 1 failed publish(es).', $flush->stdout);
        self::assertSame(0, FailedMqttJob::query()->count());
    }

    public function test_a_row_of_the_pure_php_package_is_published_as_it_was_meant(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootApp();
        Artisan::call('migrate', ['--force' => true]);
        $topic = $this->topic('upstream-row');
        $listener = $this->listen($topic);
        // That package stored the message through a json cast: a string as a JSON string.
        $row = FailedMqttJob::query()->create(['broker' => 'default', 'topic' => $topic, 'message' => 'hello', 'exception' => 'e', 'failed_at' => now()]);
        self::assertSame('"hello"', $row->fresh()->getRawOriginal('message'));

        $retry = $this->artisan(['mqtt-broadcast:retry', $row->external_id]);

        self::assertSame(0, $retry->exitCode, $retry->describe());
        self::assertSame([[$topic, 'hello']], $listener->waitFor(1));
    }

    public function test_the_job_has_tries_backoff_and_tags(): void
    {
        $app = $this->bootApp();
        $app['config']->set('mqtt-broadcast.queue.tries', '5');
        $app['config']->set('mqtt-broadcast.queue.backoff', '2,30');

        $job = new MqttMessageJob('sensors/1', 'x', 'backup');

        self::assertSame([5, [2, 30]], [$job->tries, $job->backoff]);
        self::assertSame(['mqtt-broadcast', 'mqtt-broadcast:connection:backup', 'mqtt-broadcast:topic:sensors/1'], $job->tags());
    }
}
