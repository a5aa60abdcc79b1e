/* A tiny RTSP server for the OpenCV stream tests: serves a moving test
 * picture as RTP/JPEG at rtsp://127.0.0.1:PORT/test.
 * Build: gcc rtsp_server.c $(pkg-config --cflags --libs gstreamer-rtsp-server-1.0) */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	gst_init(&argc, &argv);
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	GstRTSPServer *server = gst_rtsp_server_new();
	gst_rtsp_server_set_address(server, "127.0.0.1");
	gst_rtsp_server_set_service(server, argv[1]);
	GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
	gst_rtsp_media_factory_set_launch(factory,
		"( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "
		"! jpegenc ! rtpjpegpay name=pay0 pt=26 )");
	gst_rtsp_media_factory_set_shared(factory, TRUE);
	gst_rtsp_mount_points_add_factory(gst_rtsp_server_get_mount_points(server), "/test", factory);
	if (gst_rtsp_server_attach(server, NULL) == 0) {
		fprintf(stderr, "cannot listen on port %s\n", argv[1]);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	g_main_loop_run(loop);
	return 0;
}
