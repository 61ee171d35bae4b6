<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Schema;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Exceptions\MqttBroadcastException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Models\MqttLogger;
use MqttBroadcast\Laravel\Tests\TestCase;

/** What an application written for the pure-PHP package relies on, item by item. */
final class CompatibilityTest extends TestCase
{
    public function test_the_jobs_positional_arguments_are_in_the_old_order(): void
    {
        $topic = $this->topic('positional');
        $this->bootApp();

        $listener = $this->listen($topic);
        // The old fifth argument was cleanSession: true must not make the message retained.
        MqttMessageJob::dispatch($topic, 'not retained', 'default', 1, true);
        self::assertSame([[$topic, 'not retained']], $listener->waitFor(1));
        $job = new MqttMessageJob('a/b', 'm', 'backup', 2, false, true, ['content_type' => 'text/plain']);

        self::assertSame(['a/b', 'm', 'backup', 2, false, true, ['content_type' => 'text/plain']], [$job->topic, $job->message, $job->broker, $job->qos, $job->cleanSession, $job->retain, $job->properties]);
        $late = $this->listen($topic);
        $late->sync();
        self::assertSame([], $late->messages(), 'a subscriber arriving later gets no retained message');
    }

    public function test_the_events_positional_arguments_are_in_the_old_order(): void
    {
        $event = new MqttMessageReceived('app/sensors/1', '25.5', 'backup', 4242);
        $defaults = new MqttMessageReceived('t', 'm');

        self::assertSame(['app/sensors/1', '25.5', 'backup', 4242, 0, false, []], [$event->getTopic(), $event->getMessage(), $event->getBroker(), $event->getPid(), $event->qos, $event->retain, $event->properties]);
        self::assertSame(['local', getmypid()], [$defaults->getBroker(), $defaults->getPid()]);
    }

    public function test_a_connection_that_is_not_configured_is_still_caught_as_mqtt_broadcast_exception(): void
    {
        $this->bootApp();

        try {
            MqttBroadcast::publish('a/b', 'x', 'not-configured');
            self::fail('published on a connection that is not configured');
        } catch (MqttBroadcastException $e) {
            self::assertStringContainsString('connection "not-configured" is not configured', $e->getMessage());
        }
    }

    public function test_the_helpers_publish_on_local_where_it_is_configured_else_on_default(): void
    {
        $app = $this->bootApp();
        MqttBroadcast::fake();
        mqttMessage('without/local', 'x');
        MqttBroadcast::assertPublishedOn('default', 'without/local');

        $app['config']->set('mqtt-broadcast.connections.local', ['host' => '127.0.0.1']);
        $app->forgetInstance(\MqttBroadcast\Laravel\Config\MqttBroadcastConfig::class);
        MqttBroadcast::fake();
        mqttMessage('with/local', 'x');
        mqttMessageSync('with/local', 'y');
        mqttMessage('explicit', 'z', 'default');
        MqttBroadcast::assertPublishedTimes('with/local', 2);
        MqttBroadcast::assertPublishedOn('local', 'with/local', 'y');
        MqttBroadcast::assertPublishedOn('default', 'explicit');
    }

    public function test_migrate_creates_the_tables_without_publishing(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootApp();

        self::assertSame(0, Artisan::call('migrate', ['--force' => true]));

        self::assertTrue(Schema::hasTable('mqtt_loggers'));
        self::assertSame(
            ['id', 'external_id', 'broker', 'topic', 'message', 'qos', 'retain', 'exception', 'failed_at', 'retried_at', 'retry_count', 'created_at', 'updated_at'],
            Schema::getColumnListing('mqtt_failed_jobs')
        );
        self::assertSame([], glob("{$this->appDir}/database/migrations/*") ?: []);
    }

    public function test_a_database_of_the_pure_php_package_keeps_its_tables_and_rows(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootApp();
        // Its table, written as its Logger listener wrote rows: the message JSON-encoded.
        Schema::create('mqtt_loggers', static function ($table): void {
            $table->id();
            $table->uuid('external_id')->unique();
            $table->string('broker')->default('remote')->index();
            $table->string('topic')->nullable();
            $table->longText('message')->nullable();
            $table->timestamps();
        });
        DB::table('mqtt_loggers')->insert([
            ['external_id' => 'a', 'broker' => 'b', 'topic' => 't', 'message' => '{"value":22.5}', 'created_at' => now(), 'updated_at' => now()],
            ['external_id' => 'b', 'broker' => 'b', 'topic' => 't', 'message' => '"plain text"', 'created_at' => now(), 'updated_at' => now()],
        ]);

        self::assertSame(0, Artisan::call('migrate', ['--force' => true]));
        self::assertSame(0, Artisan::call('vendor:publish', ['--tag' => 'mqtt-broadcast-migrations']));
        self::assertSame(0, Artisan::call('vendor:publish', ['--tag' => 'mqtt-broadcast-migrations']));
        self::assertSame(0, Artisan::call('migrate', ['--force' => true]));

        self::assertCount(2, glob("{$this->appDir}/database/migrations/*.php"), 'publishing twice leaves one copy of each');
        self::assertSame([['value' => 22.5], 'plain text'], MqttLogger::query()->orderBy('id')->get()->pluck('message')->all(), 'read through the JSON cast as before');
        self::assertSame('not json', MqttLogger::query()->create(['broker' => 'default', 'topic' => 't', 'message' => 'not json'])->fresh()->message, 'a payload that is not JSON reads as it is');
    }

    public function test_the_logger_model_is_prunable(): void
    {
        touch("{$this->appDir}/database/database.sqlite");
        // logs.prune_after_days: 30 unless set.
        $this->bootApp();
        Artisan::call('migrate', ['--force' => true]);
        $old = MqttLogger::query()->create(['broker' => 'default', 'topic' => 'old', 'message' => 'x']);
        $old->forceFill(['created_at' => now()->subDays(31)])->save();
        MqttLogger::query()->create(['broker' => 'default', 'topic' => 'new', 'message' => 'y']);

        self::assertSame(0, Artisan::call('model:prune', ['--model' => [MqttLogger::class]]), Artisan::output());

        self::assertSame(['new'], MqttLogger::query()->pluck('topic')->all());
    }
}
