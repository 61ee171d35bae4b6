<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Schema;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Logging\MessageLog;
use MqttBroadcast\Laravel\Models\MqttLogger;
use MqttBroadcast\Laravel\Tests\TestCase;

final class LoggingTest extends TestCase
{
    public function test_the_published_migration_creates_the_log_table(): void
    {
        $this->bootLoggingApp();

        self::assertTrue(Schema::hasTable('mqtt_loggers'));
        self::assertSame(
            ['id', 'external_id', 'broker', 'topic', 'message', 'created_at', 'updated_at'],
            Schema::getColumnListing('mqtt_loggers')
        );
    }

    public function test_published_messages_are_written_in_one_insert_when_the_app_terminates(): void
    {
        $app = $this->bootLoggingApp();
        $inserts = 0;
        DB::listen(static function ($query) use (&$inserts): void {
            $inserts += (int) str_starts_with(strtolower($query->sql), 'insert');
        });

        MqttBroadcast::publish($this->topic('a'), 'first');
        MqttBroadcast::publish($this->topic('b'), ['second' => true]);
        MqttBroadcast::publishSync($this->topic('c'), 'third', qos: 1);
        self::assertSame(0, MqttLogger::query()->count(), 'nothing written per message');

        $app->terminate();

        self::assertSame(1, $inserts);
        $logs = MqttLogger::query()->orderBy('id')->get();
        self::assertSame(
            [['default', $this->topic('a'), 'first'], ['default', $this->topic('b'), ['second' => true]], ['default', $this->topic('c'), 'third']],
            $logs->map(static fn (MqttLogger $log) => [$log->broker, $log->topic, $log->message])->all(),
            'message reads as JSON where it is JSON, as with the pure-PHP package'
        );
        self::assertSame('{"second":true}', $logs[1]->getRawOriginal('message'), 'the column holds the payload as sent');
        self::assertCount(3, $logs->pluck('external_id')->unique()->filter());
    }

    public function test_a_full_batch_is_written_at_once(): void
    {
        $this->bootLoggingApp();

        for ($i = 0; $i < MessageLog::BATCH_SIZE + 5; $i++) {
            MqttBroadcast::publish($this->topic('batch'), "m$i");
        }

        self::assertSame(MessageLog::BATCH_SIZE, MqttLogger::query()->count());
        self::assertSame(5, app(MessageLog::class)->pending());
    }

    public function test_payloads_that_are_not_utf8_are_kept_base64_encoded(): void
    {
        $app = $this->bootLoggingApp();

        MqttBroadcast::publish($this->topic('binary'), "\xff\x00\xfe");
        $app->terminate();

        self::assertSame('base64:' . base64_encode("\xff\x00\xfe"), MqttLogger::query()->value('message'));
    }

    public function test_nothing_is_logged_without_logs_enable(): void
    {
        $app = $this->bootLoggingApp(['MQTT_LOG_ENABLE' => 'false']);

        MqttBroadcast::publish($this->topic('quiet'), 'x');
        $app->terminate();

        self::assertSame(0, MqttLogger::query()->count());
    }

    /** @param array<string, string> $env */
    private function bootLoggingApp(array $env = []): \Illuminate\Foundation\Application
    {
        touch("{$this->appDir}/database/database.sqlite");
        $app = $this->bootApp($env + ['MQTT_LOG_ENABLE' => 'true']);
        self::assertSame(0, Artisan::call('vendor:publish', ['--tag' => 'mqtt-broadcast-migrations']));
        self::assertSame(0, Artisan::call('migrate', ['--force' => true]));
        return $app;
    }
}
