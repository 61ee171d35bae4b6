<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Queue\Events\JobFailed;
use Illuminate\Queue\Events\JobProcessed;
use Illuminate\Support\Facades\Event;
use Mqtt\ConnectionException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Mqtt5Listener;

/**
 * Publishing through the queue, on Laravel's sync queue connection: the job is
 * serialized, unserialized and handled as a worker would, within the test.
 */
final class QueueTest extends TestCase
{
    /** @var list<string> */
    private array $processed = [];

    public function test_with_queue_enabled_publish_dispatches_the_job(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootQueueApp(['MQTT_QUEUE_ENABLED' => 'true']);

        MqttBroadcast::publish($this->topic('queued'), ['n' => 1], qos: 1);

        self::assertSame([MqttMessageJob::class], $this->processed);
        // The job published with publishSync(): the broker has the message already.
        $listener->sync();
        self::assertSame([[$this->topic('queued'), '{"n":1}']], $listener->messages());
    }

    public function test_queued_true_dispatches_the_job_without_queue_enabled(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootQueueApp();

        MqttBroadcast::publish($this->topic('direct'), 'd');
        MqttBroadcast::publish($this->topic('queued'), 'q', queued: true);
        MqttBroadcast::connection()->flush(5.0);

        self::assertSame([MqttMessageJob::class], $this->processed);
        self::assertSameMultiset(['d', 'q'], array_column($listener->waitFor(2), 1));
    }

    public function test_the_job_can_be_dispatched_as_with_the_pure_php_package(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootQueueApp();

        MqttMessageJob::dispatch(
            topic: $this->topic('home/livingroom/temperature'),
            message: json_encode(['value' => 22.5, 'unit' => 'celsius']),
            broker: 'default',
            qos: 1
        );

        $listener->sync();
        self::assertSame([[$this->topic('home/livingroom/temperature'), '{"value":22.5,"unit":"celsius"}']], $listener->messages());
    }

    public function test_binary_payloads_survive_the_queues_json(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootQueueApp(['MQTT_QUEUE_ENABLED' => 'true']);

        MqttBroadcast::publish($this->topic('raw'), "\x00\xff\xfe raw", qos: 1);

        $listener->sync();
        self::assertSame([[$this->topic('raw'), "\x00\xff\xfe raw"]], $listener->messages());
    }

    public function test_mqtt_5_properties_survive_the_queues_json(): void
    {
        $listener = Mqtt5Listener::start(static::broker(), $this->topic('#'));
        $this->bootQueueApp(['MQTT_QUEUE_ENABLED' => 'true', 'MQTT_PROTOCOL' => '5']);

        MqttBroadcast::publish($this->topic('v5'), 'with properties', qos: 1, properties: [
            'user_properties' => ['trace' => 'abc'],
            'content_type' => 'text/plain',
            'correlation_data' => "\x00\xff\xfe",
        ]);

        $listener->sync();
        $message = $listener->messageWithPayload('with properties');
        self::assertSame(['trace:abc', 'text/plain', "\x00\xff\xfe"], [$message['user_properties'], $message['content_type'], $message['correlation_data']]);
        self::assertSame([MqttMessageJob::class], $this->processed);
    }

    public function test_a_message_the_broker_does_not_take_fails_the_job(): void
    {
        $this->bootQueueApp([
            'MQTT_QUEUE_ENABLED' => 'true',
            'MQTT_PORT' => (string) Broker::freePort(),
            'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true',
            'MQTT_MAX_RETRIES' => '1',
            'MQTT_MAX_RETRY_DELAY' => '1',
        ]);
        $failed = [];
        Event::listen(JobFailed::class, static function (JobFailed $event) use (&$failed): void {
            $failed[] = $event->exception::class;
        });

        try {
            MqttBroadcast::publish($this->topic('lost'), 'x', qos: 1);
            self::fail('the job did not fail');
        } catch (ConnectionException) {
        }
        self::assertSame([ConnectionException::class], $failed);
        self::assertSame([], $this->processed);
        MqttBroadcast::connection()->close();
    }

    public function test_the_job_goes_to_the_configured_queue_and_connection(): void
    {
        $this->bootQueueApp(['MQTT_JOB_QUEUE' => 'mqtt', 'MQTT_JOB_CONNECTION' => 'database']);

        $job = new MqttMessageJob('a/b', ['x' => 1], 'default', 1, retain: true);

        self::assertSame(['mqtt', 'database'], [$job->queue, $job->connection]);
        self::assertSame('{"x":1}', $job->message, 'encoded at dispatch, as the message was then');
        self::assertEquals($job, unserialize(serialize($job)));
    }

    /** @param array<string, string> $env */
    private function bootQueueApp(array $env = []): void
    {
        $this->bootApp($env);
        Event::listen(JobProcessed::class, function (JobProcessed $event): void {
            $this->processed[] = $event->job->resolveName();
        });
    }
}
